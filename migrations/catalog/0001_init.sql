-- catalog schema; tables come with the catalog module
select 1;
