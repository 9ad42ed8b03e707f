-- One database per service on the compose stack's PostgreSQL (run once, on an empty volume).
CREATE DATABASE signup;
CREATE DATABASE jobs;
CREATE DATABASE notifications;
