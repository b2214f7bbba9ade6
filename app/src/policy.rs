//! Every permission decision of Gatehouse, in one place (SPEC.md "Roles"). Server functions,
//! REST handlers and pages ask [`authorize`]; the UI only hides what it would refuse.

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
    CreateDeleteGroups,
    /// Edit settings and membership of a group; `member_of_group` says whether the actor is in it.
    EditGroup {
        member_of_group: bool,
    },
    ManageBilling,
    ViewAuditLog,
}

/// Whether `role` may do `action`.
pub fn allows(role: Role, action: Action) -> bool {
    use Role::*;
    match action {
        Action::ViewMembers => matches!(role, Owner | Admin | TeamLeader | User),
        Action::ManageOrganization | Action::ManageOwners => role == Owner,
        Action::ManageMembers | Action::CreateDeleteGroups | Action::ViewAuditLog => {
            matches!(role, Owner | Admin)
        }
        Action::EditGroup { member_of_group } => {
            matches!(role, Owner | Admin) || (role == TeamLeader && member_of_group)
        }
        Action::ManageBilling => matches!(role, Owner | Admin | BillingManager),
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
        let table: [(Action, [bool; 5]); 9] = [
            (Action::ViewMembers, [true, true, true, false, true]),
            (
                Action::ManageOrganization,
                [true, false, false, false, false],
            ),
            (Action::ManageMembers, [true, true, false, false, false]),
            (Action::ManageOwners, [true, false, false, false, false]),
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
}
