-- The members page's "Suspended by provisioning" list and SCIM's unfiltered Users list read the
-- suspended members of one organization: without this, each read walked every provisioned
-- member of the organization.
CREATE INDEX scim_users_suspended ON scim_users (org_id, suspended_at) WHERE suspended_at IS NOT NULL;
