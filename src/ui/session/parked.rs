//! The parked-tickets screen: the list of tickets parked at this till, and resuming one.

use super::*;

/// The parked-tickets screen's controller: the list as last read from the store, and the
/// last message. Its fields are private: other modules change it only through its methods, and
/// the adapter only reads it.
#[derive(Clone, Debug, Default)]
pub struct ParkedScreen {
    list: Vec<ParkedTicket>,
    message: Option<Message>,
}

impl ParkedScreen {
    pub fn list(&self) -> &[ParkedTicket] {
        &self.list
    }

    pub fn message(&self) -> Option<&Message> {
        self.message.as_ref()
    }

    pub(super) fn say(&mut self, message: Option<Message>) {
        self.message = message;
    }

    fn show(&mut self, list: Vec<ParkedTicket>) {
        self.list = list;
        self.message = None;
    }
}

impl Session {
    pub fn show_parked(&mut self) {
        match self.checkout.parked() {
            Ok(list) => {
                self.sale.set_parked_count(list.len());
                self.parked.show(list);
                self.screen = Screen::Parked;
            }
            Err(error) => self.sale.say(Message::error(self.refusal(&error))),
        }
    }

    pub fn resume(&mut self, index: usize) {
        let Some(id) = self.parked.list.get(index).map(|p| p.id) else {
            return;
        };
        let nonce = self.checkout.ticket_nonce().to_string();
        match self.checkout.resume_with(id, Some(&nonce)) {
            Ok(_) => {
                self.parked.list.remove(index);
                let last = self.checkout.ticket().lines().last().map(|l| l.id);
                let message = Message::info(self.lang.pick(
                    &format!("已取回挂单 #{id}"),
                    &format!("resumed ticket #{id}"),
                ));
                self.sale.ticket_back(last, self.parked.list.len(), message);
                self.screen = Screen::Sale;
            }
            Err(error) => self.parked.say(Message::error(self.refusal(&error))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn showing_the_list_clears_the_last_message() {
        let mut screen = ParkedScreen::default();
        screen.say(Message::error("close the parked list to scan".into()));
        screen.show(Vec::new());
        assert!(screen.message().is_none() && screen.list().is_empty());
    }
}
