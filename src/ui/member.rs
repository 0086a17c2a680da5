//! The member question's adapter: consent to enroll, or which of two members to keep.

use std::rc::Rc;

use slint::ComponentHandle;

use super::session::{MemberPrompt, Session, member_title};
use super::{App, AppWindow, MemberAdapter};

pub(super) fn connect(app: &Rc<App>) {
    let adapter = app.window.global::<MemberAdapter>();
    adapter.on_answer(super::on1(app, |s, yes| s.answer_member_prompt(yes)));
}

pub(super) fn show(window: &AppWindow, session: &Session) {
    let adapter = window.global::<MemberAdapter>();
    let lang = session.lang;
    let Some(prompt) = session.sale().member_prompt() else {
        adapter.set_visible(false);
        return;
    };
    let (title, body, yes, no) = match prompt {
        MemberPrompt::Consent { phone } => {
            let settings = &session.member_settings;
            (
                lang.pick(
                    &format!("{} 还不是会员：加入吗？", phone.masked()),
                    &format!("{} is not a member yet: join?", phone.masked()),
                ),
                format!(
                    "{}\n({})",
                    lang.pick(&settings.consent_zh, &settings.consent_en),
                    lang.pick(
                        &format!("同意书版本 {}", settings.consent_version),
                        &format!("consent version {}", settings.consent_version)
                    )
                ),
                lang.pick("顾客同意，入会", "Customer agrees: join"),
                lang.pick("不同意", "Does not agree"),
            )
        }
        MemberPrompt::Replace { new, .. } => {
            let current = session
                .ticket_member()
                .map(member_title)
                .unwrap_or_default();
            let new = member_title(new);
            (
                lang.pick("这一单有两个会员", "Two members on one sale"),
                lang.pick(
                    &format!("已关联 {current}，又扫到 {new}。本单记在哪位会员名下？"),
                    &format!("{current} is attached and {new} was scanned. Whose sale is it?"),
                ),
                lang.pick(&format!("改为 {new}"), &format!("Use {new}")),
                lang.pick(&format!("保留 {current}"), &format!("Keep {current}")),
            )
        }
    };
    adapter.set_title(title.into());
    adapter.set_body(body.into());
    adapter.set_yes_text(yes.into());
    adapter.set_no_text(no.into());
    adapter.set_visible(true);
}
