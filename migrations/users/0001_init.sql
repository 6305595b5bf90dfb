-- users schema; tables come with the users module
select 1;
