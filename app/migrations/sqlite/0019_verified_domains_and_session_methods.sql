-- Verified domains: an organization speaks for an email domain only once it has published the
-- DNS TXT record Gatehouse gave it. Several organizations may list one domain (each with its
-- own token), but it is verified for one at a time: proving control moves it.
--
-- token: the value to publish (not a secret: it is public in DNS once published).
-- checked_at / check_error: the last Verify, and why it failed (NULL: it passed, or none yet).
-- lost_at: another organization proved control of the domain then and took it over.
CREATE TABLE org_domains (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    verified_at INTEGER,
    checked_at INTEGER,
    check_error TEXT,
    lost_at INTEGER
);
CREATE UNIQUE INDEX org_domains_org_domain_key ON org_domains (org_id, domain);
CREATE UNIQUE INDEX org_domains_verified_key ON org_domains (domain) WHERE verified_at IS NOT NULL;

-- SSO allowed domains were unique across organizations: whoever listed a domain first held it,
-- so another organization could block its real owner. Now several organizations may list a
-- domain; only the one that verified it routes and creates accounts for it.
CREATE TABLE sso_domains_by_org (
    org_id INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    PRIMARY KEY (org_id, domain)
);
INSERT INTO sso_domains_by_org (org_id, domain) SELECT org_id, domain FROM sso_domains;
DROP TABLE sso_domains;
ALTER TABLE sso_domains_by_org RENAME TO sso_domains;
CREATE INDEX sso_domains_domain_idx ON sso_domains (domain);

-- How each session was proven (RFC 8176-like method names, space-separated): pwd, otp (an
-- authenticator app code), rec (a recovery code), hwk (a security key or passkey), sso (the
-- provider of sessions.sso_org_id), sso_mfa (that provider's MFA, counted by that organization
-- only), mfa (a Gatehouse second factor of a kind not recorded: sessions from before this).
ALTER TABLE sessions ADD COLUMN methods TEXT NOT NULL DEFAULT '';
UPDATE sessions SET methods = CASE
    WHEN sso_org_id IS NOT NULL THEN 'sso'
    WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id AND u.two_factor_at IS NOT NULL)
        THEN 'pwd mfa'
    ELSE 'pwd' END;

-- The email the provider asserted for an identity waiting to be linked: the link page names
-- it, with the organization and the provider, before the person agrees.
ALTER TABLE sso_pending_links ADD COLUMN email TEXT;
