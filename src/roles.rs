//! Who may do what: the actions of store operations, and the config's `[roles]`, which gives
//! each role its actions. Every front-end asks [`Roles::check`] before it acts for someone.

use serde::{Deserialize, Serialize};

use crate::store::{Role, StaffMember};

/// Something a role may or may not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    OpenShift,
    CloseShift,
    XReport,
    PaidIn,
    PaidOut,
    NoSale,
    /// Take back a sale within the policy.
    Return,
    /// Approve a return past the window or over the limit.
    ApproveReturn,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::OpenShift,
        Action::CloseShift,
        Action::XReport,
        Action::PaidIn,
        Action::PaidOut,
        Action::NoSale,
        Action::Return,
        Action::ApproveReturn,
    ];

    /// The config's name: `open_shift`, `paid_out`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Action::OpenShift => "open_shift",
            Action::CloseShift => "close_shift",
            Action::XReport => "x_report",
            Action::PaidIn => "paid_in",
            Action::PaidOut => "paid_out",
            Action::NoSale => "no_sale",
            Action::Return => "return",
            Action::ApproveReturn => "approve_return",
        }
    }
}

impl Action {
    /// What it is, as a sentence says it: "pay out".
    pub fn verb(self) -> &'static str {
        match self {
            Action::OpenShift => "open a shift",
            Action::CloseShift => "close a shift",
            Action::XReport => "print an X report",
            Action::PaidIn => "pay in",
            Action::PaidOut => "pay out",
            Action::NoSale => "open the drawer without a sale",
            Action::Return => "take a return",
            Action::ApproveReturn => "approve a return",
        }
    }
}

/// `[roles]`: each role's actions. A manager may always do everything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Roles {
    pub cashier: Vec<Action>,
    pub supervisor: Vec<Action>,
}

impl Default for Roles {
    fn default() -> Self {
        use Action::*;
        Roles {
            // Not the X report: it shows what the drawer should hold, which the blind count
            // at the close keeps from the person counting.
            cashier: vec![NoSale, Return],
            supervisor: vec![
                OpenShift, CloseShift, XReport, PaidIn, PaidOut, NoSale, Return,
            ],
        }
    }
}

/// Why someone may not do something.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{who} ({role}) may not {verb}: [roles] {role} does not list {action}")]
pub struct NotAllowed {
    pub who: String,
    pub role: &'static str,
    pub verb: &'static str,
    pub action: &'static str,
}

impl Roles {
    /// Whether `role` may do `action`.
    pub fn may(&self, role: Role, action: Action) -> bool {
        match role {
            Role::Manager => true,
            Role::Supervisor => self.supervisor.contains(&action),
            Role::Cashier => self.cashier.contains(&action),
        }
    }

    /// [`Self::may`] for a staff member, with the reason when not.
    pub fn check(&self, who: &StaffMember, action: Action) -> Result<(), NotAllowed> {
        if self.may(who.role, action) {
            return Ok(());
        }
        Err(NotAllowed {
            who: who.id.clone(),
            role: who.role.as_str(),
            verb: action.verb(),
            action: action.as_str(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staff(role: Role) -> StaffMember {
        StaffMember {
            id: "1001".into(),
            name: "王芳".into(),
            role,
        }
    }

    #[test]
    fn each_role_does_what_the_config_gives_it() {
        let roles = Roles::default();
        let check = |role: Role, action: Action, allowed: bool| {
            assert_eq!(roles.may(role, action), allowed, "{role:?} {action:?}");
        };
        check(Role::Cashier, Action::NoSale, true);
        check(Role::Cashier, Action::PaidOut, false);
        check(Role::Cashier, Action::CloseShift, false);
        check(Role::Supervisor, Action::PaidOut, true);
        check(Role::Supervisor, Action::ApproveReturn, false);
        for action in Action::ALL {
            check(Role::Manager, action, true);
        }
        assert_eq!(
            roles
                .check(&staff(Role::Cashier), Action::PaidOut)
                .unwrap_err()
                .to_string(),
            "1001 (cashier) may not pay out: [roles] cashier does not list paid_out"
        );
    }

    #[test]
    fn roles_parse_from_the_config_and_unknown_actions_are_refused() {
        let roles: Roles = toml::from_str("cashier = [\"paid_in\"]").unwrap();
        assert!(roles.may(Role::Cashier, Action::PaidIn));
        assert!(!roles.may(Role::Cashier, Action::NoSale));
        assert_eq!(roles.supervisor, Roles::default().supervisor);
        let error = toml::from_str::<Roles>("cashier = [\"steal\"]")
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown variant `steal`"), "{error}");
        assert!(toml::from_str::<Roles>("janitor = []").is_err());
    }
}
