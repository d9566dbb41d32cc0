use std::time::{Duration, Instant};

use super::{YieldTimer, yields_here};

const EVERY: Duration = Duration::from_millis(1);

/// Spins until this thread has yielded `more` times more than `from`;
/// panics after 10 s (a generous guard: the timer fires every millisecond).
fn spin_until_yielded(from: u64, more: u64) {
    let guard = Instant::now() + Duration::from_secs(10);
    while yields_here() < from + more {
        assert!(
            Instant::now() < guard,
            "no yield signal came in 10 s of spinning"
        );
        std::hint::spin_loop();
    }
}

/// Sleeps long enough for a timer firing every millisecond to fire dozens
/// of times, and says whether this thread yielded meanwhile.
fn yielded_while_sleeping() -> bool {
    let before = yields_here();
    std::thread::sleep(Duration::from_millis(40));
    yields_here() != before
}

#[test]
fn an_armed_timer_makes_its_thread_yield_a_disarmed_quiet_or_dropped_one_does_not() {
    std::thread::spawn(|| {
        let mut timer = YieldTimer::new(EVERY).expect("a timer for a nonzero interval");
        assert!(
            !yielded_while_sleeping(),
            "a new timer fired before it was armed"
        );
        timer.set(true);
        spin_until_yielded(yields_here(), 3);
        let quiet = timer.quiet();
        assert!(!yielded_while_sleeping(), "a quiet timer still fired");
        drop(quiet);
        spin_until_yielded(yields_here(), 3);
        timer.set(false);
        assert!(!yielded_while_sleeping(), "a disarmed timer still fired");
        // Quiet and back leaves a disarmed timer disarmed.
        drop(timer.quiet());
        assert!(
            !yielded_while_sleeping(),
            "a quiet guard armed a disarmed timer"
        );
        timer.set(true);
        spin_until_yielded(yields_here(), 1);
        drop(timer);
        assert!(!yielded_while_sleeping(), "a deleted timer still fired");
    })
    .join()
    .unwrap();
}

#[test]
fn only_the_thread_that_armed_the_timer_yields() {
    std::thread::spawn(|| {
        let mut timer = YieldTimer::new(EVERY).expect("a timer for a nonzero interval");
        timer.set(true);
        let other = std::thread::spawn(|| {
            let before = yields_here();
            // Busy, as the thread with the timer is not.
            let until = Instant::now() + Duration::from_millis(40);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            yields_here() - before
        });
        assert_eq!(other.join().unwrap(), 0);
        spin_until_yielded(yields_here(), 1);
    })
    .join()
    .unwrap();
}

#[test]
fn a_zero_interval_makes_no_timer() {
    assert!(YieldTimer::new(Duration::ZERO).is_none());
}
