"""The Talent Network's own library, shared by the signup, jobs and notifications services."""
