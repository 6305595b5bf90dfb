-- Accounts. The email is stored normalised (trimmed, lower-case) and is unique; the password only
-- as an argon2id PHC string. login_failures / login_failures_since hold the per-account sign-in
-- throttle in the database, so every web instance sees the same count.
create table users.users (
  id uuid primary key,
  email text not null,
  name text not null,
  role text not null,
  password_hash text not null,
  login_failures integer not null default 0,
  login_failures_since timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_email_normalised check (email = lower(btrim(email))),
  constraint users_email_length check (char_length(email) between 3 and 254),
  constraint users_name_length check (char_length(name) between 1 and 100),
  constraint users_role_known check (role in ('buyer', 'seller', 'admin')),
  constraint users_login_failures_positive check (login_failures >= 0)
);
create unique index users_email_key on users.users (email);
