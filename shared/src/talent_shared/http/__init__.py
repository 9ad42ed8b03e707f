"""HTTP pieces every service shares."""
