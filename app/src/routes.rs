//! The pages as lazily loaded routes: the browser downloads a page's code when the page is
//! first shown, not with the shell. Pages are loaded in a few units (a unit is one split
//! point, `#[lazy]`): one per page where people arrive cold, and one for all the signed-in
//! pages, so that moving between those costs no further download and the code they share
//! is not cut into dozens of small files (each compressed on its own, and so larger).
//!
//! The server renders every page at once; `#[lazy]` there only records which unit a page
//! used, for the `<link rel="preload">` tags of the response.

use leptos::prelude::*;
use leptos_router::LazyRoute;

/// The signed-out pages other than sign-in and invitations, opened after either.
#[derive(Clone, Copy)]
pub enum AccountPage {
    SignUp,
    SecondStep,
}

/// The signed-in pages: the current organization's and the profile.
#[derive(Clone, Copy)]
pub enum OrgPage {
    Home,
    Members,
    Groups,
    Group,
    Scans,
    Scan,
    Settings,
    Audit,
    Profile,
}

// Sign-in and an invitation link are where people arrive, often on a phone: each is a unit
// of its own, so their first load carries no other page's code.
#[leptos::lazy]
fn sign_in_page() -> AnyView {
    view! { <crate::auth::views::SignInPage/> }.into_any()
}

#[leptos::lazy]
fn invitation_page() -> AnyView {
    view! { <crate::invitations::views::AcceptPage/> }.into_any()
}

#[leptos::lazy]
fn account_page(page: AccountPage) -> AnyView {
    match page {
        AccountPage::SignUp => view! { <crate::auth::views::SignUpPage/> }.into_any(),
        AccountPage::SecondStep => view! { <crate::two_factor::views::SecondStepPage/> }.into_any(),
    }
}

#[leptos::lazy]
fn org_page(page: OrgPage) -> AnyView {
    match page {
        OrgPage::Home => view! { <crate::pages::Home/> }.into_any(),
        OrgPage::Members => view! { <crate::members::views::MembersPage/> }.into_any(),
        OrgPage::Groups => view! { <crate::groups::views::GroupsPage/> }.into_any(),
        OrgPage::Group => view! { <crate::pages::GroupPage/> }.into_any(),
        OrgPage::Scans => view! { <crate::scans::views::ScansPage/> }.into_any(),
        OrgPage::Scan => view! { <crate::scans::views::ScanPage/> }.into_any(),
        OrgPage::Settings => view! { <crate::orgs::views::SettingsPage/> }.into_any(),
        OrgPage::Audit => view! { <crate::audit::views::AuditPage/> }.into_any(),
        OrgPage::Profile => view! { <crate::pages::ProfilePage/> }.into_any(),
    }
}

/// One route type per page: its view awaits the unit that renders it (loading it first, once),
/// and `preload` starts loading that unit, which the router calls as soon as it matches the
/// route (the `__preload_*` functions are made by `#[lazy]`, in the browser's build only).
macro_rules! lazy_routes {
    ($($route:ident => $view:expr, $preload:path;)*) => {$(
        pub struct $route;

        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            async fn view(_this: Self) -> AnyView {
                $view.await
            }

            async fn preload() {
                #[cfg(feature = "hydrate")]
                $preload().await;
            }
        }
    )*};
}

lazy_routes! {
    SignInRoute => sign_in_page(), __preload_sign_in_page;
    InvitationRoute => invitation_page(), __preload_invitation_page;
    SecondStepRoute => account_page(AccountPage::SecondStep), __preload_account_page;
    SignUpRoute => account_page(AccountPage::SignUp), __preload_account_page;
    HomeRoute => org_page(OrgPage::Home), __preload_org_page;
    MembersRoute => org_page(OrgPage::Members), __preload_org_page;
    GroupsRoute => org_page(OrgPage::Groups), __preload_org_page;
    GroupRoute => org_page(OrgPage::Group), __preload_org_page;
    ScansRoute => org_page(OrgPage::Scans), __preload_org_page;
    ScanRoute => org_page(OrgPage::Scan), __preload_org_page;
    SettingsRoute => org_page(OrgPage::Settings), __preload_org_page;
    AuditRoute => org_page(OrgPage::Audit), __preload_org_page;
    ProfileRoute => org_page(OrgPage::Profile), __preload_org_page;
}
