-- The role and the databases of the services, created when missing (run by deploy/local/postgres.py
-- through psql as the server's superuser, with the variables role, password and databases set).
-- Every name and the password are quoted by format() (%I, %L); \gexec runs each statement made.
SELECT format('CREATE ROLE %I', :'role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'role')
\gexec
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'role', :'password')
\gexec
-- CREATE DATABASE cannot run in a transaction block or a DO statement: one statement each.
SELECT format('CREATE DATABASE %I OWNER %I', name, :'role')
FROM unnest(string_to_array(:'databases', ',')) AS name
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = name)
\gexec
