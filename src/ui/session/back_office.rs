//! The back office: today's figures, Sync now, the language, the cash drawer.

use super::*;

/// The back office's controller, besides the sync state: today's figures once loaded,
/// whether a sync is running, and the last message. Its fields are private: other modules
/// change it only through its methods, and the adapter only reads it.
#[derive(Clone, Debug, Default)]
pub struct BackOfficeScreen {
    today: Option<DaySummary>,
    syncing: bool,
    message: Option<Message>,
}

impl BackOfficeScreen {
    /// Today's takings, once the store has been read.
    pub fn today(&self) -> Option<&DaySummary> {
        self.today.as_ref()
    }

    pub fn syncing(&self) -> bool {
        self.syncing
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub(super) fn say(&mut self, message: Option<Message>) {
        self.message = message;
    }

    /// Starts a sync unless one is running; whether it started.
    fn start_sync(&mut self) -> bool {
        if self.syncing {
            return false;
        }
        self.syncing = true;
        self.message = None;
        true
    }
}

impl Session {
    pub fn back_office_loaded(&mut self, today: DaySummary, sync: SyncState) {
        self.back_office.today = Some(today);
        self.sync = sync;
    }

    pub fn sync_now(&mut self) -> Option<Task> {
        self.back_office.start_sync().then_some(Task::Sync)
    }

    /// The answer to [`Task::Sync`]: a summary line, or why it failed.
    pub fn synced(
        &mut self,
        result: Result<crate::sync::SyncReport, crate::sync::SyncNowError>,
        sync: SyncState,
    ) {
        self.back_office.syncing = false;
        // The counts are re-read from the store after the sync, whatever its outcome: the
        // screen never shows a figure the store does not hold.
        self.sync = sync;
        self.back_office.message = match result {
            Ok(report) => Message::info(self.lang.sync_report(&report)),
            Err(error) => Message::error(self.lang.sync_error(&error)),
        };
    }

    pub fn set_language(&mut self, lang: Lang) {
        self.lang = lang;
    }

    /// The back office's "No sale": the drawer opens without a sale, with a reason from
    /// `[cash] no_sale_reasons`, for the roles `[roles]` lets (anyone else asks for a PIN).
    pub fn open_drawer(&mut self) -> Option<Task> {
        if self.screen != Screen::BackOffice {
            return None;
        }
        self.cash_movement(till_domain::shift::MovementKind::NoSale)
    }

    /// What became of a drawer pulse ([`Task::OpenDrawer`], or a cash sale's commit).
    pub fn drawer_done(&mut self, result: Result<(), till_drivers::printer::PrintError>) {
        let state = match result {
            Ok(()) => DrawerState::Opened,
            Err(error) => DrawerState::Failed(error),
        };
        if self.screen == Screen::BackOffice {
            match &state {
                DrawerState::Failed(error) => {
                    self.back_office.message = Message::error(self.lang.pick(
                        &format!("钱箱未打开：{}", self.lang.print_error(error)),
                        &format!("the drawer did not open: {}", self.lang.print_error(error)),
                    ))
                }
                // What opened it (a paid out, a no-sale) stays said.
                _ if self.back_office.message.is_some() => {}
                _ => {
                    self.back_office.message = Message::info(self.t("钱箱已打开", "drawer opened"))
                }
            }
        }
        self.drawer = Some(state);
    }

    /// Back to the back office from one of its screens, saying `message`; its figures are
    /// read again, since what was done there may have changed them.
    pub(super) fn back_to_office(&mut self, message: Option<Message>) -> Option<Task> {
        if self.cashier.is_none() {
            self.screen = Screen::Login;
            return None;
        }
        self.screen = Screen::BackOffice;
        self.back_office.today = None;
        self.back_office.message = message;
        Some(Task::LoadBackOffice)
    }

    pub fn close_side_screen(&mut self) {
        self.screen = if self.cashier.is_some() {
            Screen::Sale
        } else {
            Screen::Login
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_now_pressed_twice_syncs_once() {
        let mut screen = BackOfficeScreen::default();
        screen.say(Message::error("offline".into()));
        assert!(screen.start_sync());
        assert!(screen.syncing() && screen.message().is_none());
        assert!(!screen.start_sync());
    }
}
