//! The touchscreen: the Slint window, one adapter per screen, and the glue that runs the
//! controller's slow work on worker threads.
//!
//! `session` is the controller (no window needed); each screen module has a `connect` that
//! wires its adapter's callbacks to the controller and a `show` that copies the controller's
//! state into the adapter. Results from worker threads come back through
//! `slint::invoke_from_event_loop`, so the UI thread never waits on a disk, a printer or HQ.

/// The Rust side of the `.slint` files, as `slint-build` generates it.
/// Slint's generated code uses `unsafe` internally (vtables); ours never does.
#[allow(
    unsafe_code,
    unused_qualifications,
    missing_debug_implementations,
    clippy::all,
    clippy::todo
)]
mod generated {
    slint::include_modules!();
}
pub use generated::*;

mod approval;
mod backoffice;
mod complete;
pub mod customer;
pub mod kiosk;
mod login;
mod member;
mod ops;
mod parked;
mod payment;
mod sale;
pub mod screenshot;
pub mod session;
pub mod text;
pub mod wedge;
mod worker;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slint::ComponentHandle;

use crate::checkout::{Checkout, CheckoutSettings};
use crate::config::{Config, DATABASE_FILE};
use crate::printing::PrintWorker;
use crate::store::Store;
use session::{QuickItem, Session, Task};
use text::Lang;
use till_domain::scan::Scan;
use worker::{Done, Workers};

/// The running touchscreen: the window, the controller and the workers.
pub struct App {
    pub window: AppWindow,
    /// The customer-facing display; shown only where `[ui] customer_display` asks for it.
    pub customer: CustomerWindow,
    join_url: String,
    customer_mode: crate::config::CustomerDisplay,
    pub session: Rc<RefCell<Session>>,
    workers: Workers,
    printer: Option<Arc<PrintWorker>>,
    beeper: Option<till_drivers::sound::Beeper>,
    /// The session's alert count last shown (beeped and flashed).
    alerts_shown: std::cell::Cell<u64>,
    flash_off: slint::Timer,
    _timer: slint::Timer,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App").finish_non_exhaustive()
    }
}

thread_local! {
    /// The app on this (the UI) thread, for results arriving from workers.
    static CURRENT: RefCell<std::rc::Weak<App>> = const { RefCell::new(std::rc::Weak::new()) };
    /// What [`App::run_until`] waits for, and which wait is current.
    static WAITING: RefCell<Option<Box<dyn Fn() -> bool>>> = const { RefCell::new(None) };
    static WAIT_GENERATION: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How long the UI thread's database connection waits for another writer.
const UI_BUSY_TIMEOUT: Duration = Duration::from_millis(500);

/// How long the screen's edge stays red after a refused scan.
const FLASH: Duration = Duration::from_millis(400);

/// Options for [`App::new`].
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// Start the receipt printer's queue worker (off in screenshots).
    pub printing: bool,
    /// Start the background sync thread (off in screenshots and tests).
    pub background_sync: bool,
    /// Beep on refused scans, where the machine has audio (off in screenshots and tests).
    pub sound: bool,
}

impl App {
    /// Builds the till's window over the terminal in `data_dir`. The Slint platform must be
    /// set up already (a real window, or the testing backend).
    pub fn new(data_dir: &Path, options: AppOptions) -> anyhow::Result<Rc<App>> {
        use anyhow::Context;
        let mut config = Config::load(&data_dir.join(crate::config::CONFIG_FILE))?;
        let mut store = Store::open(&data_dir.join(DATABASE_FILE))?;
        store.check_identity(&config.store_id, &config.terminal_id)?;
        // A ticket left open when the till stopped waits, parked, for its cashier.
        store
            .park_left_open_ticket()
            .context("cannot bring back the ticket left open")?;
        // This connection serves the UI thread: its few writes (a member code's use, parking)
        // wait briefly for another writer, then say the database is busy.
        store.set_busy_timeout(UI_BUSY_TIMEOUT)?;
        crate::sync::apply_registration(&mut config, &store)?;
        let settings = CheckoutSettings::from_config(&config)?;
        let staff = store.staff()?;
        if staff.is_empty() {
            anyhow::bail!(
                "no staff can log in yet; add one with `till staff add ID --name NAME --pin PIN`"
            );
        }
        let quick_keys = quick_keys(&store, &settings, &config.ui.quick_keys)?;
        let lang = config.ui.language;
        let store_name = if config.store_name.is_empty() {
            format!("{} · {}", config.store_id, config.terminal_id)
        } else {
            format!("{} · {}", config.store_name, config.terminal_id)
        };
        let checkout = Checkout::new(store, settings, "");
        let mut session = Session::new(checkout, lang, store_name, staff, quick_keys);
        session.member_settings = session::MemberSettings::from_config(&config.member);
        session.ops = session::OpsSettings::from_config(&config)?;

        let printer = match (
            options.printing,
            crate::printing::ReceiptPrinter::from_config(&config)?,
        ) {
            (true, Some(printer)) => Some(Arc::new(
                PrintWorker::spawn(data_dir.join(DATABASE_FILE), printer)
                    .context("cannot start the print queue")?,
            )),
            _ => None,
        };
        let window = AppWindow::new().context("cannot create the till's window")?;
        let customer = CustomerWindow::new().context("cannot create the customer display")?;
        let join_url = format!(
            "{}/join/{}",
            config.member.public_url.trim_end_matches('/'),
            config.store_id
        );
        let sound = options.sound;
        let workers = Workers::spawn(data_dir.to_path_buf(), printer.clone(), &config, options)?;
        let timer = slint::Timer::default();
        let app = Rc::new(App {
            window,
            customer,
            join_url,
            customer_mode: config.ui.customer_display,
            session: Rc::new(RefCell::new(session)),
            workers,
            printer,
            beeper: if sound {
                till_drivers::sound::Beeper::spawn().ok()
            } else {
                None
            },
            alerts_shown: std::cell::Cell::new(0),
            flash_off: slint::Timer::default(),
            _timer: timer,
        });
        CURRENT.with(|current| *current.borrow_mut() = Rc::downgrade(&app));
        select_language(lang);
        sale::forget_shown();
        customer::forget_shown();
        login::connect(&app);
        sale::connect(&app);
        payment::connect(&app);
        complete::connect(&app);
        approval::connect(&app);
        member::connect(&app);
        parked::connect(&app);
        backoffice::connect(&app);
        ops::connect(&app);
        connect_shell(&app);
        app.tick();
        // The clock, and the printer's state, once a second.
        let weak = Rc::downgrade(&app);
        app._timer.start(
            slint::TimerMode::Repeated,
            Duration::from_millis(1000),
            move || {
                if let Some(app) = weak.upgrade() {
                    app.tick();
                }
            },
        );
        Ok(app)
    }

    /// Runs a controller action and then shows its result: the one way state changes.
    pub fn update<R>(&self, action: impl FnOnce(&mut Session) -> R) -> R
    where
        R: IntoTask,
    {
        let result = action(&mut self.session.borrow_mut());
        if let Some(task) = result.task() {
            self.start(task);
        }
        let deferred = self.session.borrow_mut().take_deferred();
        for task in deferred {
            self.start(task);
        }
        self.refresh();
        result
    }

    fn start(&self, task: Task) {
        self.workers.start(task);
    }

    /// Copies the controller's state into every adapter.
    pub fn refresh(&self) {
        let session = self.session.borrow();
        let window = &self.window;
        shell_show(window, &session);
        login::show(window, &session);
        sale::show(window, &session);
        payment::show(window, &session);
        complete::show(window, &session);
        approval::show(window, &session);
        member::show(window, &session);
        customer::show(&self.customer, &session, &self.join_url);
        parked::show(window, &session);
        backoffice::show(window, &session);
        ops::show(window, &session);
        if session.alerts != self.alerts_shown.get() {
            self.alerts_shown.set(session.alerts);
            self.alert();
        }
    }

    /// A refused scan: a short beep where there is audio, and the screen's edge flashes red
    /// for a moment.
    fn alert(&self) {
        if let Some(beeper) = &self.beeper {
            beeper.error();
        }
        self.window.global::<ShellAdapter>().set_flash(true);
        let window = self.window.as_weak();
        self.flash_off
            .start(slint::TimerMode::SingleShot, FLASH, move || {
                if let Some(window) = window.upgrade() {
                    window.global::<ShellAdapter>().set_flash(false);
                }
            });
    }

    /// Beeps asked for so far (none where sound is off).
    pub fn beeps(&self) -> usize {
        self.beeper.as_ref().map_or(0, |b| b.requested())
    }

    fn tick(&self) {
        self.window
            .global::<ShellAdapter>()
            .set_clock(jiff::Zoned::now().strftime("%H:%M").to_string().into());
        let size = self.window.window().size();
        let compact = size.width < 1000 || size.height < 700;
        if self.window.get_compact() != compact {
            self.window.set_compact(compact);
        }
        let size = self.customer.window().size();
        let compact = size.width < 1000 || size.height < 700;
        if self.customer.get_compact() != compact {
            self.customer.set_compact(compact);
        }
        if let Some(printer) = &self.printer {
            let state = printer.state();
            let mut session = self.session.borrow_mut();
            if session.printer.as_ref() != Some(&state) {
                session.printer = Some(state);
            }
        }
        self.refresh();
    }

    /// A worker's answer, on the UI thread.
    fn deliver(done: Done) {
        let Some(app) = CURRENT.with(|current| current.borrow().upgrade()) else {
            return;
        };
        match done {
            Done::Pin(session::PinPurpose::Login, who) => {
                app.update(|s| s.logged_in(who));
            }
            Done::Pin(session::PinPurpose::Approval(id), who) => {
                app.update(|s| s.approved(id, who));
            }
            Done::PhoneHashed(phone) => {
                app.update(|s| s.phone_hashed(phone));
            }
            Done::Committed(result) => {
                app.update(|s| s.committed(result));
            }
            Done::Drawer(result) => {
                app.update(|s| s.drawer_done(result));
            }
            Done::BackOffice(today, sync) => {
                app.update(|s| s.back_office_loaded(today, sync));
            }
            Done::Synced(result, sync) => {
                app.update(|s| s.synced(result, sync));
            }
            Done::QuickKeys(keys) => {
                app.update(|s| s.set_quick_keys(keys));
            }
            Done::Scanner(event) => {
                app.update(|s| s.scanner_event(event));
            }
            Done::ShiftOpened(result) => {
                app.update(|s| s.shift_opened(result));
            }
            Done::ShiftClosed(result) => {
                app.update(|s| s.shift_closed(result));
            }
            Done::XReport(result) => {
                app.update(|s| s.paper_loaded(result));
            }
            Done::PaperPrinted(trouble) => {
                app.update(|s| s.paper_printed(trouble));
            }
            Done::CashMoved(result) => {
                app.update(|s| s.cash_moved(result));
            }
            Done::ReturnLoaded(result) => {
                app.update(|s| s.return_loaded(result));
            }
            Done::Returned(result) => {
                app.update(|s| s.returned(*result));
            }
            Done::Sales(result) => {
                app.update(|s| s.sales_loaded(result));
            }
            Done::Reprinted(result) => {
                app.update(|s| s.reprinted(result));
            }
        }
    }

    /// Opens the customer display as configured: off, a window, or full screen on the monitor
    /// to the right of the till's.
    pub fn show_customer_display(&self) -> anyhow::Result<()> {
        use crate::config::CustomerDisplay;
        match self.customer_mode {
            CustomerDisplay::Off => return Ok(()),
            CustomerDisplay::Window => {}
            CustomerDisplay::SecondMonitor => {
                let till = self.window.window().size();
                self.customer
                    .window()
                    .set_position(slint::PhysicalPosition::new(till.width as i32, 0));
                self.customer.window().set_fullscreen(true);
            }
        }
        self.customer.show()?;
        Ok(())
    }

    /// Sizes the customer display (for screenshots); compact below 1000×700.
    pub fn set_customer_size(&self, width: u32, height: u32) {
        self.customer
            .window()
            .set_size(slint::PhysicalSize::new(width, height));
        self.customer.set_compact(width < 1000 || height < 700);
    }

    /// Sizes the window; below 1000×700 the screens use their compact layout (a 7" till).
    pub fn set_size(&self, width: u32, height: u32) {
        self.window
            .window()
            .set_size(slint::PhysicalSize::new(width, height));
        self.window.set_compact(width < 1000 || height < 700);
    }

    /// Runs the event loop until `done` holds for the controller or `timeout` passes, so that
    /// answers from worker threads arrive. Returns whether `done` held. The condition is
    /// checked from events posted by a helper thread, so this works with mock time too.
    pub fn run_until(&self, timeout: Duration, done: impl Fn(&Session) -> bool + 'static) -> bool {
        if done(&self.session.borrow()) {
            return true;
        }
        let generation = WAIT_GENERATION.with(|g| {
            g.set(g.get() + 1);
            g.get()
        });
        let done = Rc::new(done);
        let (check, session) = (done.clone(), self.session.clone());
        WAITING.with(|w| *w.borrow_mut() = Some(Box::new(move || check(&session.borrow()))));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let deadline = Instant::now() + timeout;
        std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(2));
                let _ = slint::invoke_from_event_loop(move || {
                    // A check left over from an earlier wait must not end this one.
                    if WAIT_GENERATION.with(|g| g.get()) != generation {
                        return;
                    }
                    let finished = WAITING.with(|w| w.borrow().as_ref().is_none_or(|f| f()));
                    if finished || Instant::now() > deadline {
                        WAIT_GENERATION.with(|g| g.set(g.get() + 1));
                        let _ = slint::quit_event_loop();
                    }
                });
            }
        });
        let _ = slint::run_event_loop();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        WAITING.with(|w| w.borrow_mut().take());
        self.refresh();
        done(&self.session.borrow())
    }

    /// A scan from a serial scanner.
    pub fn scan(&self, code: &str) {
        self.update(|s| s.scan(code));
    }
}

/// Starts the configured serial scanners; their codes reach the controller on the UI thread.
/// Keep the handles: dropping one stops its scanner.
pub fn attach_scanners(
    config: &Config,
) -> anyhow::Result<Vec<till_drivers::scanner::ScannerHandle>> {
    let (events, received) = std::sync::mpsc::channel();
    let mut handles = Vec::new();
    for section in &config.scanners {
        handles.push(till_drivers::scanner::spawn(
            section.driver_config()?,
            events.clone(),
        )?);
    }
    std::thread::Builder::new()
        .name("scanner-events".into())
        .spawn(move || {
            for event in received {
                worker::send(Done::Scanner(event));
            }
        })?;
    Ok(handles)
}

/// Controller actions return nothing, a task, or (for keys) whether the key was used and a
/// task; this lets [`App::update`] take them all.
pub trait IntoTask {
    fn task(&self) -> Option<Task>;
}

impl IntoTask for () {
    fn task(&self) -> Option<Task> {
        None
    }
}

impl IntoTask for Option<Task> {
    fn task(&self) -> Option<Task> {
        self.clone()
    }
}

impl IntoTask for (bool, Option<Task>) {
    fn task(&self) -> Option<Task> {
        self.1.clone()
    }
}

/// An adapter callback without arguments that runs a controller action. It holds the app
/// weakly: the window's callbacks must not keep the app alive.
fn on0<R: IntoTask>(
    app: &Rc<App>,
    action: impl Fn(&mut Session) -> R + 'static,
) -> impl Fn() + 'static {
    let weak = Rc::downgrade(app);
    move || {
        if let Some(app) = weak.upgrade() {
            app.update(|s| action(s));
        }
    }
}

/// [`on0`] for a callback with one argument.
fn on1<A, R: IntoTask>(
    app: &Rc<App>,
    action: impl Fn(&mut Session, A) -> R + 'static,
) -> impl Fn(A) + 'static {
    let weak = Rc::downgrade(app);
    move |arg| {
        if let Some(app) = weak.upgrade() {
            app.update(|s| action(s, arg));
        }
    }
}

/// A model row index from Slint; a negative one matches no row.
fn row(index: i32) -> usize {
    usize::try_from(index).unwrap_or(usize::MAX)
}

/// Switches the `.slint` labels' language along with the controller's.
pub fn select_language(lang: Lang) {
    // Only fails for a translation that was not bundled, which build.rs guarantees.
    let _ = slint::select_bundled_translation(lang.translation());
}

fn connect_shell(app: &Rc<App>) {
    let weak = Rc::downgrade(app);
    app.window
        .global::<ShellAdapter>()
        .on_key(move |text, control| {
            let Some(app) = weak.upgrade() else {
                return false;
            };
            let (used, _) = app.update(|s| s.key(&text, control, Instant::now()));
            used
        });
}

fn shell_show(window: &AppWindow, session: &Session) {
    let shell = window.global::<ShellAdapter>();
    shell.set_screen(match session.screen {
        session::Screen::Login => Screen::Login,
        session::Screen::Sale => Screen::Sale,
        session::Screen::Payment => Screen::Payment,
        session::Screen::Complete => Screen::Complete,
        session::Screen::Parked => Screen::Parked,
        session::Screen::BackOffice => Screen::BackOffice,
        session::Screen::Count => Screen::Count,
        session::Screen::Paper => Screen::Paper,
        session::Screen::Cash => Screen::Cash,
        session::Screen::Returns => Screen::Returns,
        session::Screen::Sales => Screen::Sales,
    });
    shell.set_store_name(session.store_name.clone().into());
    shell.set_cashier(
        session
            .cashier
            .as_ref()
            .map(|c| {
                let (zh, en) = match c.role {
                    crate::store::Role::Cashier => ("收银员", "Cashier"),
                    crate::store::Role::Supervisor => ("主管", "Supervisor"),
                    crate::store::Role::Manager => ("店长", "Manager"),
                };
                session
                    .lang
                    .pick(&format!("{zh} {}", c.name), &format!("{en} {}", c.name))
            })
            .unwrap_or_default()
            .into(),
    );
    let (printer, printer_problem) = match &session.printer {
        None => (String::new(), false),
        Some(state) => match &state.last_error {
            Some(_) => (
                session.lang.pick(
                    &format!("打印机故障 · {} 张待打", state.pending),
                    &format!("Printer problem · {} queued", state.pending),
                ),
                true,
            ),
            None => (session.lang.pick("打印机正常", "Printer ready"), false),
        },
    };
    shell.set_printer_status(printer.into());
    shell.set_printer_problem(printer_problem);
    let sync = &session.sync;
    let (text, problem) = if sync.last_error.is_some() {
        (session.lang.pick("同步失败", "Sync failed"), true)
    } else if sync.registered {
        (
            session.lang.pick(
                &format!("待同步 {}", sync.pending),
                &format!("{} to sync", sync.pending),
            ),
            false,
        )
    } else {
        (String::new(), false)
    };
    shell.set_sync_status(text.into());
    shell.set_sync_problem(problem);
}

/// Resolves the configured quick keys to products. A code the catalog does not know is a
/// configuration mistake: say which.
fn quick_keys(
    store: &Store,
    settings: &CheckoutSettings,
    codes: &[String],
) -> anyhow::Result<Vec<QuickItem>> {
    let mut items = Vec::new();
    for code in codes {
        let is_internal = |c: &str| store.is_internal_code(c).unwrap_or(false);
        let key = match till_domain::classify(code, &settings.scan, &is_internal) {
            Scan::Product(product) => product.catalog_key().to_string(),
            _ => anyhow::bail!("quick key {code:?} is not a product code"),
        };
        let product = store
            .product_by_internal_code(&key)?
            .ok_or_else(|| anyhow::anyhow!("quick key {code:?} is not in the catalog"))?;
        items.push(QuickItem {
            code: code.clone(),
            name_zh: product.name_zh.clone(),
            name_en: product.name_en.clone(),
            price: product.price.minor(),
        });
    }
    Ok(items)
}

/// Where a terminal's database lives, for workers that open their own connection.
pub(crate) fn database(data_dir: &Path) -> PathBuf {
    data_dir.join(DATABASE_FILE)
}
