"""The run's time-left estimate (session/estimate.py), on plain numbers: no threads, no output."""

from __future__ import annotations

from pytest_rnnbench.session.estimate import CaseEstimate, RunEstimate, format_eta


def node(case: str) -> str:
    return f"suite/test_seed_lstm.py::test_lstm_training[{case}]"


def test_eta_text_is_rounded_so_it_counts_down_calmly():
    assert format_eta(3) == "under 10 s left"
    assert format_eta(12) == "about 10 s left"
    assert format_eta(44) == "about 40 s left"
    assert format_eta(61) == "about 1 min left"
    assert format_eta(96) == "about 1 min 40 s left"
    assert format_eta(118) == "about 2 min left"
    assert format_eta(340) == "about 6 min left"
    assert format_eta(59 * 60 + 20) == "about 59 min left"
    assert format_eta(97 * 60) == "about 1 h 35 min left"
    assert format_eta(2 * 3600 + 60) == "about 2 h left"
    assert format_eta(150, whole_run=False) == "about 3 min left in this case"


def test_without_a_known_total_cases_are_numbered_as_they_start():
    run = RunEstimate()
    assert [run.begin_case(node(c)) for c in "abc"] == [(1, None), (2, None), (3, None)]


def test_a_case_number_comes_from_the_run_order_and_never_goes_backwards():
    run = RunEstimate()
    run.start([node("a"), node("b"), node("c")])
    assert run.begin_case(node("c")) == (3, 3)
    assert run.begin_case(node("zz")) == (4, None)  # not among the collected: numbered on


def test_estimate_stays_put_unless_it_moves_by_more_than_the_tolerance():
    run = RunEstimate()
    run.start([node("a")])
    run.begin_case(node("a"))
    # 600 s left, then estimates that wobble by a few seconds: the shown figure counts down.
    assert run.estimate(0.0, 1, 1, 100.0, 600.0) == 600.0
    assert run.estimate(10.0, 1, 1, 110.0, 595.0) == 590.0
    assert run.estimate(20.0, 1, 1, 120.0, 570.0) == 580.0
    # new information that moves the finish by more than 10 %: the estimate follows it
    assert run.estimate(30.0, 1, 1, 130.0, 800.0) == 800.0


def test_the_remaining_cases_count_as_long_as_the_finished_ones():
    run = RunEstimate()
    # Before any case finished: the remaining cases as long as this one will be (100 s so far,
    # 50 s left): 50 + 3 x 150.
    assert run.estimate(0.0, 2, 5, 100.0, 50.0) == 500.0
    run.finished = [100.0, 300.0]  # then the mean finished case: 50 + 3 x 200
    run._shown_end = None
    assert run.estimate(0.0, 2, 5, 100.0, 50.0) == 650.0
    # Before this case measured an epoch, it is taken for a mean case too: 200 - 30 + 3 x 200.
    run._shown_end = None
    assert run.estimate(0.0, 2, 5, 30.0, None) == 770.0
    # Without a total, only this case is estimated.
    run._shown_end = None
    assert run.estimate(0.0, 2, None, 100.0, 50.0) == 50.0


def test_remaining_cases_count_by_their_backend_and_a_skipped_backend_counts_nothing():
    run = RunEstimate()
    kinds = {
        node("a"): "tensorflow",
        node("b"): "mxnet",
        node("c"): "tensorflow",
        node("d"): "mxnet",
    }
    run.start(list(kinds), kinds)
    run.end_case(100.0, node("a"))
    run.end_case(400.0, node("b"))
    # Case 3 (tensorflow) has 50 s left; case 4 is mxnet's: 400 s, not the mean 250 s.
    assert run.estimate(0.0, 3, 4, 50.0, 50.0) == 450.0
    fresh = RunEstimate()
    fresh.start(list(kinds), kinds)
    fresh.end_case(100.0, node("a"))
    fresh.skip(node("b"))  # mxnet is not installed: its cases ahead are not waited for
    assert fresh.estimate(0.0, 3, 4, 95.0, 5.0) == 5.0


def test_a_case_that_ended_without_any_finished_case_gives_no_estimate():
    run = RunEstimate()
    run.start([node("a"), node("b")])
    assert run.estimate(10.0, 1, 2, 10.0, None, ended=True) is None
    assert run.estimate(10.0, 1, 2, 10.0, None) is None  # no epoch measured anywhere yet


def test_a_case_estimates_itself_from_its_ended_epochs():
    case = CaseEstimate()
    case.phase(0.0, "compiling (warm-up)")
    case.phase(10.0, "epoch 1 of 3")
    assert case.left(40.0, 20, 40) is None  # no timed epoch has ended yet
    case.phase(70.0, "epoch 2 of 3")  # epoch 1 took 60 s
    assert case.epoch_seconds == [60.0]
    # Half of epoch 2 done (by its steps), epoch 3 to go: 30 + 60 s.
    assert case.left(100.0, 20, 40) == 90.0
    # Without step counts, the time spent in the epoch says how far it is: 15 s of 60.
    assert case.left(85.0, None, None) == 45.0 + 60.0
    case.phase(130.0, "epoch 3 of 3")
    assert case.epoch_seconds == [60.0, 60.0]
    assert case.left(130.0, 0, 40) == 60.0


def test_a_case_of_several_fresh_workers_waits_for_the_workers_still_to_start():
    case = CaseEstimate(started=0.0, workers=3)
    case.phase(0.0, "importing tensorflow")
    case.phase(10.0, "epoch 1 of 2")  # 10 s of start-up
    case.phase(30.0, "epoch 2 of 2")  # epoch 1 took 20 s
    # This worker's last epoch (20 s), then two workers of 10 + 2 x 20 s each.
    assert case.left(30.0, 0, 40) == 20.0 + 2 * 50.0
    case.phase(60.0, "importing tensorflow")  # the second worker
    case.phase(70.0, "epoch 1 of 2")
    assert case.worker == 1
    assert case.left(70.0, 0, 40) == 40.0 + 50.0
    case.phase(90.0, "epoch 2 of 2")
    # The third and last: a worker's last epoch (ended by the next one's start-up) is not timed.
    case.phase(120.0, "epoch 1 of 2")
    assert case.epoch_seconds == [20.0, 20.0]
    assert case.left(120.0, 0, 40) == 40.0
