-- Run once by the postgres image, as its superuser, when the data volume is empty
-- (/docker-entrypoint-initdb.d, mounted by docker-compose.yml).
--
-- Dosis gets a role of its own that owns its database and nothing else, so the server cannot
-- act as a superuser (read the server's files, run programs through COPY ... PROGRAM). The role's
-- password is POSTGRES_PASSWORD: the image read it, as root, from POSTGRES_PASSWORD_FILE, the
-- dosis_database_password secret that Dosis reads too. The superuser then loses that password:
-- it signs in only from inside the container (docker compose exec), where the image trusts it.
\set ON_ERROR_STOP on
\getenv dosis_password POSTGRES_PASSWORD

CREATE ROLE dosis LOGIN PASSWORD :'dosis_password';
CREATE DATABASE dosis OWNER dosis;
REVOKE ALL ON DATABASE dosis FROM PUBLIC;
ALTER ROLE CURRENT_USER PASSWORD NULL;
