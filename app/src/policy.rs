//! Every permission decision of Gatehouse, in one place (SPEC.md "Roles"). Server functions,
//! REST handlers and pages ask [`authorize`]; the UI only hides what it would refuse.

use crate::api_keys::model::Scope;
use crate::domain::Role;
use crate::error::AppError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See members and groups of the organization.
    ViewMembers,
    /// Change the organization's name, security policy; delete it.
    ManageOrganization,
    /// Invite members, change roles, remove members (non-Owners).
    ManageMembers,
    /// Grant or revoke the Owner role, remove an Owner.
    ManageOwners,
    /// Reset a member's two-factor authentication (they lost their phone and recovery codes).
    ResetMemberTwoFactor,
    CreateDeleteGroups,
    /// Edit settings and membership of a group; `member_of_group` says whether the actor is in it.
    EditGroup {
        member_of_group: bool,
    },
    ManageBilling,
    ViewAuditLog,
    /// See, start and cancel a group's scans; `member_of_group` says whether the actor is in
    /// the group.
    Scans {
        member_of_group: bool,
    },
}

/// Whether `role` may do `action`.
pub fn allows(role: Role, action: Action) -> bool {
    use Role::*;
    match action {
        Action::ViewMembers => matches!(role, Owner | Admin | TeamLeader | User),
        Action::ManageOrganization | Action::ManageOwners | Action::ResetMemberTwoFactor => {
            role == Owner
        }
        Action::ManageMembers | Action::CreateDeleteGroups | Action::ViewAuditLog => {
            matches!(role, Owner | Admin)
        }
        Action::EditGroup { member_of_group } => {
            matches!(role, Owner | Admin) || (role == TeamLeader && member_of_group)
        }
        Action::ManageBilling => matches!(role, Owner | Admin | BillingManager),
        Action::Scans { member_of_group } => {
            matches!(role, Owner | Admin) || (matches!(role, TeamLeader | User) && member_of_group)
        }
    }
}

/// Whether a key with `scope` could ever do anything for a member with `role`: scopes that
/// could not are not offered (a request still needs both the scope and the role's permission).
pub fn scope_usable(role: Role, scope: Scope) -> bool {
    match scope {
        Scope::OrgRead => true,
        Scope::MembersRead | Scope::GroupsRead => allows(role, Action::ViewMembers),
        Scope::MembersWrite => allows(role, Action::ManageMembers),
        Scope::GroupsWrite => allows(
            role,
            Action::EditGroup {
                member_of_group: true,
            },
        ),
        // SPEC.md: scans are seen and started by everyone but the Billing Manager.
        Scope::ScansRead | Scope::ScansWrite => allows(
            role,
            Action::Scans {
                member_of_group: true,
            },
        ),
        Scope::BillingRead | Scope::BillingWrite => allows(role, Action::ManageBilling),
        Scope::AuditRead => allows(role, Action::ViewAuditLog),
    }
}

/// What an identity provider's SCIM token asks to do. Provisioning manages people below
/// Owner and the groups it made; an Owner and a group made in Gatehouse are Gatehouse's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provisioning {
    /// Read the organization's Users and provisioned Groups.
    ReadDirectory,
    /// Make someone a member with `role`.
    AddMember {
        role: Role,
    },
    ChangeRole {
        from: Role,
        to: Role,
    },
    Suspend {
        role: Role,
    },
    Restore {
        role: Role,
    },
    Remove {
        role: Role,
    },
    /// Change or delete a group; `provisioned` says whether provisioning made it.
    ManageGroup {
        provisioned: bool,
    },
}

/// Whether a SCIM token may do `action`.
pub fn provisioning_allows(action: Provisioning) -> bool {
    use Provisioning::*;
    match action {
        ReadDirectory => true,
        AddMember { role } | Suspend { role } | Restore { role } | Remove { role } => {
            role != Role::Owner
        }
        ChangeRole { from, to } => from != Role::Owner && to != Role::Owner,
        ManageGroup { provisioned } => provisioned,
    }
}

pub fn authorize(role: Role, action: Action) -> Result<(), AppError> {
    if allows(role, action) {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    /// SPEC.md's table, row by row: (action, [Owner, Admin, Team Leader, Billing Manager, User]).
    #[test]
    fn matches_the_spec_table() {
        let table: [(Action, [bool; 5]); 12] = [
            (Action::ViewMembers, [true, true, true, false, true]),
            (
                Action::ManageOrganization,
                [true, false, false, false, false],
            ),
            (Action::ManageMembers, [true, true, false, false, false]),
            (Action::ManageOwners, [true, false, false, false, false]),
            (
                Action::ResetMemberTwoFactor,
                [true, false, false, false, false],
            ),
            (
                Action::CreateDeleteGroups,
                [true, true, false, false, false],
            ),
            (
                Action::EditGroup {
                    member_of_group: true,
                },
                [true, true, true, false, false],
            ),
            (
                Action::EditGroup {
                    member_of_group: false,
                },
                [true, true, false, false, false],
            ),
            (Action::ManageBilling, [true, true, false, true, false]),
            (Action::ViewAuditLog, [true, true, false, false, false]),
            (
                Action::Scans {
                    member_of_group: true,
                },
                [true, true, true, false, true],
            ),
            (
                Action::Scans {
                    member_of_group: false,
                },
                [true, true, false, false, false],
            ),
        ];
        for (action, expected) in table {
            for (role, allowed) in [Owner, Admin, TeamLeader, BillingManager, User]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(allows(role, action), allowed, "{role:?} {action:?}");
            }
        }
    }

    /// What a SCIM token may do: never to or into an Owner, only groups it made.
    #[test]
    fn provisioning_stops_at_owners_and_hand_made_groups() {
        use Provisioning::*;
        for role in [Admin, TeamLeader, BillingManager, User] {
            for action in [
                AddMember { role },
                Suspend { role },
                Restore { role },
                Remove { role },
            ] {
                assert!(provisioning_allows(action), "{action:?}");
            }
            assert!(provisioning_allows(ChangeRole {
                from: role,
                to: User
            }));
            assert!(!provisioning_allows(ChangeRole {
                from: role,
                to: Owner
            }));
            assert!(!provisioning_allows(ChangeRole {
                from: Owner,
                to: role
            }));
        }
        for action in [
            AddMember { role: Owner },
            Suspend { role: Owner },
            Restore { role: Owner },
            Remove { role: Owner },
            ManageGroup { provisioned: false },
        ] {
            assert!(!provisioning_allows(action), "{action:?}");
        }
        assert!(provisioning_allows(ReadDirectory));
        assert!(provisioning_allows(ManageGroup { provisioned: true }));
    }

    /// Scopes offered per role: (scope, [Owner, Admin, Team Leader, Billing Manager, User]).
    #[test]
    fn scopes_offered_follow_the_table() {
        let table: [(Scope, [bool; 5]); 10] = [
            (Scope::OrgRead, [true, true, true, true, true]),
            (Scope::MembersRead, [true, true, true, false, true]),
            (Scope::MembersWrite, [true, true, false, false, false]),
            (Scope::GroupsRead, [true, true, true, false, true]),
            (Scope::GroupsWrite, [true, true, true, false, false]),
            (Scope::ScansRead, [true, true, true, false, true]),
            (Scope::ScansWrite, [true, true, true, false, true]),
            (Scope::BillingRead, [true, true, false, true, false]),
            (Scope::BillingWrite, [true, true, false, true, false]),
            (Scope::AuditRead, [true, true, false, false, false]),
        ];
        for (scope, expected) in table {
            for (role, usable) in [Owner, Admin, TeamLeader, BillingManager, User]
                .into_iter()
                .zip(expected)
            {
                assert_eq!(scope_usable(role, scope), usable, "{role:?} {scope:?}");
            }
        }
    }
}
