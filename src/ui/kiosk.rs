//! The till's window as a kiosk: the size of the screen it runs on, or all of it, and the
//! keyboard focus taken by the till itself.
//!
//! A till often runs without a window manager. Then nobody gives its window the keyboard
//! focus: keys, and so keyboard-wedge scanners, reach nothing until someone clicks, and a
//! click does not give focus either. And a request to go full screen is a message to a window
//! manager that is not there. So on X11 the till finds its own window (by `_NET_WM_PID` and
//! title, among the root window's children) and, once it is mapped, sets the input focus to
//! it and, for full screen, places it over the whole screen itself. Where a window manager
//! has reparented the window, it does both, and the till leaves it to it.

use std::rc::Rc;
use std::time::Duration;

use slint::ComponentHandle;
use x11rb::connection::Connection;
use x11rb::protocol::xproto::{
    AtomEnum, ConfigureWindowAux, ConnectionExt, InputFocus, MapState, Window,
};

use super::App;
use crate::config::WindowSize;

/// The window's title, as `ui/app.slint` sets it.
const TITLE: &str = "Till";

/// How the till's window opens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub fullscreen: bool,
    pub size: Option<WindowSize>,
}

/// Sizes the window before it is shown, and asks for full screen.
pub fn place(app: &App, placement: Placement) {
    if let Some(size) = placement.size {
        app.set_size(size.width, size.height);
    }
    if placement.fullscreen {
        app.window.window().set_fullscreen(true);
    }
}

/// Before the window opens: waits up to `patience` for the X server named by `DISPLAY` to
/// take a connection, as a till started at boot may come up before its display does. Does
/// nothing off X11 (no `DISPLAY`, or Wayland). Errors with the X library's last reason when
/// the server never answers.
pub fn wait_for_display(patience: Duration) -> Result<(), String> {
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|d| !d.is_empty())
    {
        return Ok(());
    }
    let started = std::time::Instant::now();
    let mut said = false;
    loop {
        let error = match x11rb::connect(None) {
            Ok(_) => return Ok(()),
            Err(error) => error.to_string(),
        };
        if started.elapsed() >= patience {
            return Err(error);
        }
        if !said {
            eprintln!("till: waiting for the display to take connections ({error})");
            said = true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// After the window is shown: takes the keyboard focus (and, for full screen, the whole
/// screen) as soon as the window is mapped, trying for a few seconds on a thread of its own
/// (X round trips stay off the UI thread). Does nothing off X11.
pub fn claim_focus(app: &Rc<App>, placement: Placement) {
    if std::env::var_os("DISPLAY").is_none_or(|d| d.is_empty()) {
        return;
    }
    let window = app.window.as_weak();
    let started = std::thread::Builder::new()
        .name("kiosk".into())
        .spawn(move || {
            for _ in 0..50 {
                match claim(placement.fullscreen) {
                    Ok(Some((width, height))) => {
                        // The window now covers the screen: lay it out for that size.
                        let _ = window.upgrade_in_event_loop(move |window| {
                            window.set_compact(width < 1000 || height < 700);
                        });
                        return;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                    Err(error) => {
                        eprintln!("till: cannot take the keyboard focus: {error}");
                        return;
                    }
                }
            }
        });
    if let Err(error) = started {
        eprintln!("till: cannot take the keyboard focus: {error}");
    }
}

/// Finds this process's till window among the root window's children and, if it is mapped,
/// focuses it (placing it over the whole screen first when `fullscreen`). Returns the
/// screen's size once done, None while the window is not there or not mapped yet (or a
/// window manager has it).
fn claim(fullscreen: bool) -> Result<Option<(u32, u32)>, Box<dyn std::error::Error>> {
    let (conn, screen) = x11rb::connect(None)?;
    let root = &conn.setup().roots[screen];
    let (root_window, width, height) = (
        root.root,
        u32::from(root.width_in_pixels),
        u32::from(root.height_in_pixels),
    );
    let atoms = Atoms {
        pid: conn.intern_atom(false, b"_NET_WM_PID")?.reply()?.atom,
        name: conn.intern_atom(false, b"_NET_WM_NAME")?.reply()?.atom,
    };
    let Some(window) = own_window(&conn, root_window, &atoms)? else {
        return Ok(None);
    };
    if fullscreen {
        conn.configure_window(
            window,
            &ConfigureWindowAux::new()
                .x(0)
                .y(0)
                .width(width)
                .height(height),
        )?;
    }
    conn.set_input_focus(InputFocus::PARENT, window, x11rb::CURRENT_TIME)?
        .check()?;
    conn.flush()?;
    Ok(Some((width, height)))
}

struct Atoms {
    pid: u32,
    name: u32,
}

/// The mapped top-level window of this process titled [`TITLE`], if any.
fn own_window(
    conn: &impl Connection,
    root: Window,
    atoms: &Atoms,
) -> Result<Option<Window>, Box<dyn std::error::Error>> {
    let pid = std::process::id();
    for window in conn.query_tree(root)?.reply()?.children {
        let owner = conn
            .get_property(false, window, atoms.pid, AtomEnum::CARDINAL, 0, 1)?
            .reply()?;
        if owner.value32().and_then(|mut v| v.next()) != Some(pid) {
            continue;
        }
        let mut titled = false;
        for property in [atoms.name, u32::from(AtomEnum::WM_NAME)] {
            let title = conn
                .get_property(false, window, property, AtomEnum::ANY, 0, 64)?
                .reply()?;
            titled |= title.value == TITLE.as_bytes();
        }
        if !titled {
            continue;
        }
        let mapped = conn.get_window_attributes(window)?.reply()?.map_state == MapState::VIEWABLE;
        return Ok(mapped.then_some(window));
    }
    Ok(None)
}
