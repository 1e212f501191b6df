-- Run once by the postgres image on an empty volume: the key store gets a database of
-- its own (and a role of its own), so a dump of the main database never holds the keys.
-- Set the keys role's password with ALTER ROLE after first start (see docs/DEPLOY.md).
CREATE ROLE checkout_keys LOGIN;
CREATE DATABASE checkout_keys OWNER checkout_keys;
