-- Prepares an existing PostgreSQL server for Adal. Run once as a superuser, with the two
-- passwords set: psql -v owner_password=… -v app_password=… -f deploy/setup.sql
--
-- adal_owner owns the schema and runs migrations; adal_app is what the server connects as:
-- it owns nothing, is not superuser and cannot bypass row-level security, so every tenant's
-- rows stay behind the policies even if the code forgets a WHERE clause.
CREATE ROLE adal_owner LOGIN PASSWORD :'owner_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
CREATE ROLE adal_app LOGIN PASSWORD :'app_password' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
CREATE DATABASE adal OWNER adal_owner ENCODING 'UTF8';
