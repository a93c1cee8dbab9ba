//! The web front end's decisions, natively: the page's reducer (what each worker reply
//! does), the worker's scheduler (which job next, staleness, latest wins), the chart's
//! geometry, the page's words, and the protocol's bytes (including the JS shim's).

use lesion::eval::{Assessment, LogitMatrix, Report};
use lesion::model::{Layer, ModelInfo, ModelKind};
use lesion::perturb::{Damage, Kind, PRESETS, Settings};
use lesion::share::{self, BackendChoice};
use lesion::web::page::reducer::{Effect, on_reply};
use lesion::web::page::state::{Loading, PageState, Phase};
use lesion::web::page::text;
use lesion::web::protocol::{
    self, CHART_POSITIONS, ChartPoint, Envelope, Failure, LoadedModel, Progress, Reply, Request,
    Results,
};
use lesion::web::worker::scheduler::{Job, QUIET_MS, Scheduler};

/// A report over 4 images of 3 classes: image i's logits favour class `tops[i]`.
fn report(tops: [usize; 4]) -> Report {
    let mut data = vec![0.0f32; 12];
    for (i, top) in tops.iter().enumerate() {
        data[i * 3 + top] = 5.0;
    }
    let labels = [Some(0), Some(1), Some(2), Some(0)];
    Report::new(&LogitMatrix { classes: 3, data }, &labels)
}

fn model(on_gpu: bool) -> LoadedModel {
    LoadedModel {
        model: ModelInfo {
            kind: ModelKind::Demo,
            name: "demo".into(),
            source: "test".into(),
        },
        device_label: if on_gpu {
            "WebGPU (test)"
        } else {
            "CPU (test)"
        }
        .into(),
        on_gpu,
        shapes: vec![vec![64, 3, 11, 11]; 8],
        files: (0..4).map(|i| format!("n0000000{i}_x.jpg")).collect(),
        labels: vec![Some(0), Some(1), Some(2), Some(0)],
        intact: report([0, 1, 2, 0]),
        eval_ms: 12.0,
        worker_memory: 300 << 20,
        notices: vec!["loaded from the cache".into()],
    }
}

fn results(settings: &Settings, tops: [usize; 4]) -> Results {
    let intact = report([0, 1, 2, 0]);
    Results {
        assessment: Assessment::new(settings.clone(), report(tops), &intact, Some(Layer::Conv1)),
        ms: 40.0,
        waited_ms: 0.0,
        arrived_at: 0.0,
        worker_memory: 310 << 20,
    }
}

fn envelope(generation: u64, reply: Reply) -> Envelope {
    Envelope { generation, reply }
}

fn page(query: &str) -> PageState {
    PageState::new(share::parse(query))
}

/// A page that has loaded a model in generation 1 and asked for its settings at t=100.
fn ready(query: &str, on_gpu: bool) -> PageState {
    let mut state = page(query);
    on_reply(&mut state, envelope(0, Reply::Ready), 0.0);
    let loaded = Reply::Loaded(Box::new(model(on_gpu)));
    on_reply(&mut state, envelope(1, loaded), 100.0);
    state
}

#[test]
fn ready_worker_is_asked_for_the_links_model() {
    let mut state = page("?model=demo&backend=cpu&images=20");
    let effects = on_reply(&mut state, envelope(0, Reply::Ready), 0.0);
    let load = Request::Load {
        model: Some("demo".into()),
        backend: BackendChoice::Cpu,
        images: Some(20),
        download_agreed: false,
    };
    assert_eq!(effects, vec![Effect::Send(load)]);
    assert!(matches!(state.phase, Phase::Loading(_)));
}

fn full_size_download(missing: u64) -> protocol::Download {
    protocol::Download {
        model: ModelInfo {
            kind: ModelKind::Official,
            name: "official".into(),
            source: "test".into(),
        },
        missing,
        total: 122_000_000,
    }
}

#[test]
fn a_large_download_waits_for_the_visitor_and_is_then_asked_for_again() {
    let mut state = page("?backend=cpu&fc6=drop:0.5");
    on_reply(&mut state, envelope(0, Reply::Ready), 0.0);
    let ask = Reply::AskToDownload(full_size_download(61_000_000));
    assert_eq!(on_reply(&mut state, envelope(0, ask), 1.0), vec![]);
    let Phase::Asking(download) = &state.phase else {
        panic!("{:?}", state.phase)
    };
    let question = text::download_question(download);
    assert!(
        question.starts_with(
            "Official ImageNet AlexNet (torchvision): its weights are 61.0 MB to download."
        ) && question.contains("already keeps 61.0 MB of the 122.0 MB"),
        "{question}"
    );
    let Request::Load {
        download_agreed,
        images,
        ..
    } = state.agree_to_download()
    else {
        panic!()
    };
    assert!(download_agreed && images.is_none());
    assert!(matches!(state.phase, Phase::Loading(_)));
    assert_eq!(state.loading, Some(Loading::Site));
    // A worker started again later (a crash on the GPU) does not ask twice.
    assert!(matches!(
        state.load_request(),
        Request::Load {
            download_agreed: true,
            ..
        }
    ));
    assert_eq!(
        state.settings.to_string(),
        share::parse("?fc6=drop:0.5").settings.to_string()
    );
    let nothing_kept = text::download_question(&full_size_download(122_000_000));
    assert!(!nothing_kept.contains("already"), "{nothing_kept}");
}

#[test]
fn forgetting_the_weights_is_said_with_what_it_removed() {
    let mut state = ready("?", false);
    let gone = Ok(protocol::Forgotten {
        files: 7,
        bytes: Some(122_307_584),
    });
    on_reply(&mut state, envelope(0, Reply::Forgotten(gone)), 5.0);
    let said = state.notices.last().unwrap();
    assert!(
        said.starts_with("Removed 7 downloaded weight file(s) (122.3 MB)"),
        "{said}"
    );
    assert!(state.is_ready(), "the model on screen stays");
    let no_sizes = text::forgotten(&Ok(protocol::Forgotten {
        files: 2,
        bytes: None,
    }));
    assert!(
        no_sizes.starts_with("Removed 2 downloaded weight file(s) from"),
        "{no_sizes}"
    );
    let none = text::forgotten(&Ok(protocol::Forgotten {
        files: 0,
        bytes: Some(0),
    }));
    assert!(none.contains("kept no downloaded weights"), "{none}");
    let failed = text::forgotten(&Err("no Cache Storage".into()));
    assert!(
        failed.contains("could not be removed: no Cache Storage"),
        "{failed}"
    );
}

#[test]
fn a_page_back_from_the_back_forward_cache_starts_again_with_its_settings() {
    let mut state = ready("?seed=4&conv2=noise:0.5", false);
    let settings = state.settings.clone();
    on_reply(
        &mut state,
        envelope(
            1,
            Reply::Results(Box::new(results(&settings, [0, 1, 2, 1]))),
        ),
        200.0,
    );
    state.restart();
    assert!(matches!(state.phase, Phase::Loading(_)));
    assert!(!state.worker_ready && state.results.is_none() && !state.computing);
    assert_eq!(state.settings, settings);
    let effects = on_reply(&mut state, envelope(0, Reply::Ready), 300.0);
    assert!(matches!(effects[..], [Effect::Send(Request::Load { .. })]));
}

#[test]
fn a_loaded_model_is_shown_and_its_settings_asked_for() {
    let mut state = page("?seed=3&conv1=drop:0.5");
    let effects = on_reply(
        &mut state,
        envelope(2, Reply::Loaded(Box::new(model(false)))),
        50.0,
    );
    let settings = state.settings.clone();
    assert_eq!(
        settings.to_string(),
        share::parse("?seed=3&conv1=drop:0.5").settings.to_string()
    );
    let Effect::Send(Request::Evaluate {
        settings: asked,
        kinds,
        ..
    }) = &effects[0]
    else {
        panic!("{effects:?}")
    };
    assert_eq!(asked, &settings);
    assert_eq!(kinds[0], Kind::Drop);
    assert!(state.is_ready() && state.computing);
    assert_eq!(state.generation, 2);
    assert_eq!(state.notices, vec!["loaded from the cache".to_string()]);
}

#[test]
fn current_results_end_computing_and_record_the_latency() {
    let mut state = ready("?conv1=drop:0.5", false);
    let settings = state.settings.clone();
    on_reply(
        &mut state,
        envelope(
            1,
            Reply::Results(Box::new(results(&settings, [0, 0, 2, 0]))),
        ),
        340.0,
    );
    assert!(!state.computing);
    assert_eq!(state.latency, Some(240.0));
    assert_eq!(
        text::status(&state),
        "Updated in 40 ms (re-ran conv1 to fc8)."
    );
}

#[test]
fn results_of_older_settings_are_shown_as_superseded() {
    let mut state = ready("?conv1=drop:0.5", false);
    let older = state.settings.clone();
    state.set_layer(0, Kind::Drop, 60);
    state.ask(200.0);
    on_reply(
        &mut state,
        envelope(1, Reply::Results(Box::new(results(&older, [0, 0, 2, 0])))),
        300.0,
    );
    assert!(
        state.computing,
        "numbers of older settings do not end computing"
    );
    assert_eq!(state.latency, None);
    assert_eq!(text::status(&state), "Computing…");
}

#[test]
fn replies_from_a_replaced_engine_are_dropped() {
    // Issue: an evaluation still running on the old engine posted Results after Loaded,
    // and the page showed them as the new model's.
    let mut state = ready("", false);
    let settings = state.settings.clone();
    on_reply(
        &mut state,
        envelope(2, Reply::Loaded(Box::new(model(false)))),
        400.0,
    );
    let stale = results(&settings, [1, 1, 1, 1]);
    on_reply(
        &mut state,
        envelope(1, Reply::Results(Box::new(stale))),
        500.0,
    );
    assert_eq!(state.results, None);
    assert!(state.computing);
    let point = ChartPoint {
        layer: Layer::Fc8,
        kind: Kind::Drop,
        seed: 0,
        position: 10,
        top1_rel: 0.5,
        top1_rel_ci: lesion::eval::Interval { lo: 0.4, hi: 0.6 },
        agreement: 0.5,
    };
    on_reply(&mut state, envelope(1, Reply::Point(point)), 500.0);
    on_reply(
        &mut state,
        envelope(1, Reply::EvalFailed(Failure::Engine("old".into()))),
        500.0,
    );
    assert!(state.charts.is_empty() && state.failure.is_none());
    on_reply(&mut state, envelope(2, Reply::Point(point)), 600.0);
    assert_eq!(state.chart(7), vec![(10, 0.5)]);
    assert_eq!(state.band(7), vec![(10, 0.5, 0.4, 0.6)]);
}

#[test]
fn progress_goes_to_the_loading_view_or_to_the_file_status() {
    let mut state = page("");
    let progress = Progress::new("Downloading weights", Some(0.5), "1 of 2 MB");
    on_reply(
        &mut state,
        envelope(0, Reply::Progress(progress.clone())),
        0.0,
    );
    assert_eq!(state.phase, Phase::Loading(progress.clone()));
    let mut state = ready("", false);
    on_reply(&mut state, envelope(0, Reply::Progress(progress)), 0.0);
    assert!(state.is_ready());
    assert_eq!(
        state.file_status.as_deref(),
        Some("Downloading weights 1 of 2 MB")
    );
}

#[test]
fn a_refused_file_leaves_the_model_and_a_failed_start_shows_the_error() {
    let mut state = ready("", false);
    state.loading = Some(Loading::Files);
    let refused = Failure::Invalid {
        file: "alexnet.pth".into(),
        message: "a PyTorch .pth file cannot be read in the browser".into(),
    };
    on_reply(
        &mut state,
        envelope(0, Reply::LoadFailed(refused.clone())),
        0.0,
    );
    assert!(state.is_ready());
    assert!(state.file_status.as_deref().unwrap().contains(".pth"));

    let mut state = page("");
    let offline = Failure::Network {
        url: "weights/index.json".into(),
        message: "HTTP 404".into(),
    };
    on_reply(
        &mut state,
        envelope(0, Reply::LoadFailed(offline.clone())),
        0.0,
    );
    assert_eq!(state.phase, Phase::Failed(offline.clone()));
    assert_ne!(
        offline.heading(),
        refused.heading(),
        "a network failure is not a bad file"
    );
}

#[test]
fn a_gpu_failure_moves_to_the_cpu_and_a_failed_move_is_shown() {
    let mut state = ready("?conv2=drop:0.3", true);
    let effects = on_reply(
        &mut state,
        envelope(1, Reply::EvalFailed(Failure::Gpu("device lost".into()))),
        0.0,
    );
    let [Effect::Send(Request::MoveToCpu { notice })] = effects.as_slice() else {
        panic!("{effects:?}")
    };
    assert!(
        notice.contains("device lost") && notice.contains("CPU"),
        "{notice}"
    );
    assert_eq!(state.backend, BackendChoice::Cpu);
    assert!(matches!(state.phase, Phase::Loading(_)) && !state.computing);
    // Issue: a hand-over that failed left "Computing…" on screen for ever.
    let failed = Failure::Engine("out of memory".into());
    on_reply(
        &mut state,
        envelope(0, Reply::LoadFailed(failed.clone())),
        0.0,
    );
    assert_eq!(state.phase, Phase::Failed(failed));
    // The settings survive for the retry.
    assert_eq!(state.query(), "?v=1&seed=0&conv2=drop:0.3");
}

#[test]
fn a_failure_on_the_cpu_is_shown_and_the_model_stays() {
    let mut state = ready("", false);
    let effects = on_reply(
        &mut state,
        envelope(1, Reply::EvalFailed(Failure::Engine("boom".into()))),
        0.0,
    );
    assert!(effects.is_empty());
    assert!(state.is_ready() && !state.computing);
    assert_eq!(text::status(&state), "Evaluation failed: boom");
}

#[test]
fn a_worker_that_dies_on_the_gpu_is_started_again_on_the_cpu() {
    let mut state = ready("?fc6=prune:0.9", true);
    let effects = on_reply(
        &mut state,
        envelope(0, Reply::Crashed("unreachable".into())),
        0.0,
    );
    assert_eq!(effects, vec![Effect::Respawn]);
    assert!(
        state.notices.iter().any(|n| n.contains("moved to the CPU")),
        "{:?}",
        state.notices
    );
    let effects = on_reply(&mut state, envelope(0, Reply::Ready), 0.0);
    let Effect::Send(Request::Load { backend, .. }) = &effects[0] else {
        panic!("{effects:?}")
    };
    assert_eq!(*backend, BackendChoice::Cpu);
    assert_eq!(
        state.settings.to_string(),
        share::parse("?fc6=prune:0.9").settings.to_string()
    );
}

#[test]
fn a_worker_that_dies_on_the_cpu_or_cannot_start_is_an_error() {
    let mut state = ready("?backend=cpu", false);
    assert!(on_reply(&mut state, envelope(0, Reply::Crashed("panic".into())), 0.0).is_empty());
    let Phase::Failed(failure) = &state.phase else {
        panic!("{:?}", state.phase)
    };
    assert!(failure.to_string().contains("internal error: panic"));
    let mut state = page("");
    on_reply(
        &mut state,
        envelope(0, Reply::StartFailed("CompileError".into())),
        0.0,
    );
    let Phase::Failed(failure) = &state.phase else {
        panic!("{:?}", state.phase)
    };
    assert!(
        failure
            .to_string()
            .contains("could not start: CompileError")
    );
}

#[test]
fn controls_change_the_settings_as_the_sliders_say() {
    let mut state = page("?seed=5");
    state.set_layer(0, Kind::Drop, 70);
    assert_eq!(state.query(), "?v=1&seed=5&conv1=drop:0.7");
    assert_eq!(state.position_of(Layer::Conv1), 70);
    state.set_kind(0, Kind::Prune);
    assert_eq!(state.query(), "?v=1&seed=5&conv1=prune:0.7");
    state.set_layer(0, Kind::Prune, 0);
    assert!(state.settings.layers.is_empty());
    assert_eq!(
        state.kind_of(0),
        Kind::Prune,
        "an intact layer keeps its chosen kind"
    );
    state.apply(&PRESETS[2]);
    assert_eq!(
        state.settings.layers.get(&Layer::Fc6),
        Damage::new(Kind::Drop, 0.7).ok().as_ref()
    );
    assert_eq!(state.settings.seed, 5);
    let before = state.settings.seed;
    state.next_seed();
    assert_ne!(state.settings.seed, before);
    assert_eq!(
        state.query_with_images(Some(20)),
        format!("{}&images=20", state.query())
    );
}

#[test]
fn the_scheduler_shows_the_newest_settings_first_then_fills_the_charts() {
    let mut scheduler = Scheduler::default();
    assert_eq!(scheduler.next(), None);
    scheduler.engine_replaced(1);
    let kinds = [Kind::Drop; 8];
    for seed in [1, 2, 3] {
        let settings = Settings {
            seed,
            ..Settings::default()
        };
        scheduler.want(settings, kinds, None, 0, None);
    }
    let (job, ticket) = scheduler.next().unwrap();
    assert_eq!(
        job,
        Job::Show(Settings {
            seed: 3,
            ..Settings::default()
        }),
        "latest wins"
    );
    assert!(scheduler.done(&job, ticket));
    let (job, ticket) = scheduler.next().unwrap();
    assert_eq!(job, Job::Inside((None, 0)), "then the look inside");
    assert!(scheduler.done(&job, ticket));
    let mut charted = Vec::new();
    while let Some((job, ticket)) = scheduler.next() {
        let Job::Chart(key) = job else {
            panic!("{job:?}")
        };
        charted.push(key);
        assert!(scheduler.done(&job, ticket));
        assert!(charted.len() <= 80, "each point once");
    }
    assert_eq!(charted.len(), 8 * CHART_POSITIONS.len());
    assert_eq!(
        charted[0],
        (Layer::Fc8, Kind::Drop, 3, 10),
        "fc8 first, the quickest"
    );
    assert_eq!(charted[79], (Layer::Conv1, Kind::Drop, 3, 100));
}

/// The extras (chart points, the look inside) wait until the visitor has left the settings
/// alone for a moment, so that a slider being stepped or dragged does not wait for them;
/// the page's own settings and the pinned ones never wait.
#[test]
fn the_extras_wait_for_the_visitor_to_pause() {
    let mut scheduler = Scheduler::default();
    scheduler.engine_replaced(1);
    scheduler.want(Settings::default(), [Kind::Drop; 8], None, 0, None);
    scheduler.asked_at(1000.0);
    let (show, ticket) = scheduler.next().unwrap();
    assert!(matches!(show, Job::Show(_)), "{show:?}");
    assert_eq!(
        scheduler.wait_before(&show, 1000.0),
        None,
        "the settings at once"
    );
    assert!(scheduler.done(&show, ticket));
    let (inside, ticket) = scheduler.next().unwrap();
    assert!(matches!(inside, Job::Inside(_)), "{inside:?}");
    assert_eq!(
        scheduler.wait_before(&inside, 1100.0),
        Some(QUIET_MS - 100.0)
    );
    assert!(scheduler.done(&inside, ticket));
    let (chart, _) = scheduler.next().unwrap();
    assert!(matches!(chart, Job::Chart(_)), "{chart:?}");
    assert_eq!(scheduler.wait_before(&chart, 999.0 + QUIET_MS), Some(1.0));
    assert_eq!(scheduler.wait_before(&chart, 1000.0 + QUIET_MS), None);
    // Every request starts the pause again.
    scheduler.asked_at(5000.0);
    let half = QUIET_MS / 2.0;
    assert_eq!(scheduler.wait_before(&chart, 5000.0 + half), Some(half));
    let pinned = Job::Pinned(Settings::default());
    assert_eq!(
        scheduler.wait_before(&pinned, 5000.0),
        None,
        "pinned at once"
    );
    assert_eq!(
        Scheduler::default().wait_before(&chart, 0.0),
        None,
        "nothing asked"
    );
}

/// The chart of the layer moved last fills in before the others: the figure shows what
/// the visitor is looking at first.
#[test]
fn the_layer_moved_last_is_charted_first() {
    let mut scheduler = Scheduler::default();
    scheduler.engine_replaced(1);
    let mut settings = Settings::default();
    settings.set("conv2=drop:0.3").unwrap();
    scheduler.want(
        settings.clone(),
        [Kind::Drop; 8],
        Some(Layer::Conv2),
        0,
        None,
    );
    for _ in ["show", "inside"] {
        let (job, ticket) = scheduler.next().unwrap();
        assert!(scheduler.done(&job, ticket));
    }
    let mut charted = Vec::new();
    while let Some((Job::Chart(key), ticket)) = scheduler.next() {
        charted.push(key.0);
        assert!(scheduler.done(&Job::Chart(key), ticket));
    }
    let n = CHART_POSITIONS.len();
    assert!(
        charted[..n].iter().all(|l| *l == Layer::Conv2),
        "{charted:?}"
    );
    assert_eq!(charted[n], Layer::Fc8, "then fc8 and down");
    assert_eq!(charted.len(), 8 * n);
    // The page says which layer moved last.
    let mut state = PageState::new(share::parse("?conv1=drop:0.5"));
    state.set_layer(4, Kind::Noise, 30);
    let Request::Evaluate { first, .. } = state.ask(0.0) else {
        panic!()
    };
    assert_eq!(first, Some(Layer::Conv5));
}

/// The look inside is drawn again when conv1's damage or the inspected image changes, and
/// only then: it comes after the numbers and before the chart points.
#[test]
fn the_look_inside_follows_conv1_and_the_inspected_image() {
    let mut scheduler = Scheduler::default();
    scheduler.engine_replaced(1);
    let mut run = |settings: &str, image: usize| {
        let settings = share::parse(settings).settings;
        scheduler.want(settings, [Kind::Drop; 8], None, image, None);
        let mut jobs = Vec::new();
        while let Some((job, ticket)) = scheduler.next() {
            if matches!(job, Job::Chart(_)) {
                break;
            }
            assert!(scheduler.done(&job, ticket));
            jobs.push(job);
        }
        jobs
    };
    let conv1 = share::parse("?seed=4&conv1=drop:0.5").settings;
    let damage = conv1.layers[&Layer::Conv1];
    assert_eq!(run("?seed=4", 0).len(), 2, "numbers, then the look inside");
    let jobs = run("?seed=4&conv1=drop:0.5", 0);
    assert_eq!(jobs[1], Job::Inside((Some((damage, 4)), 0)));
    assert_eq!(jobs[1].settings(), conv1, "conv1's damage and seed alone");
    let jobs = run("?seed=4&conv1=drop:0.5&fc8=drop:0.9", 0);
    assert!(
        matches!(jobs[..], [Job::Show(_)]),
        "fc8 changes no picture: {jobs:?}"
    );
    let jobs = run("?seed=4&conv1=drop:0.5&fc8=drop:0.9", 7);
    assert_eq!(
        jobs,
        vec![Job::Inside((Some((damage, 4)), 7))],
        "another image only"
    );
    let jobs = run("?seed=5&fc8=drop:0.9", 7);
    assert_eq!(jobs[1], Job::Inside((None, 7)), "conv1 intact: any seed");
    assert_eq!(run("?seed=6&fc8=drop:0.9", 7).len(), 1);
}

/// A pinned result the page has no numbers for is evaluated once, after the page's own
/// settings, as a probe (so the session stays where the page is).
#[test]
fn pinned_settings_are_evaluated_once_after_the_shown_ones() {
    let mut scheduler = Scheduler::default();
    scheduler.engine_replaced(1);
    let now = share::parse("?conv1=drop:0.9").settings;
    let pinned = share::parse("?conv1=drop:0.5").settings;
    scheduler.want(now.clone(), [Kind::Drop; 8], None, 0, Some(pinned.clone()));
    let mut jobs = Vec::new();
    for _ in 0..3 {
        let (job, ticket) = scheduler.next().unwrap();
        assert!(scheduler.done(&job, ticket));
        jobs.push(job);
    }
    assert_eq!(jobs[0], Job::Show(now.clone()));
    assert_eq!(jobs[1], Job::Pinned(pinned.clone()));
    assert!(matches!(jobs[2], Job::Inside(_)), "{jobs:?}");
    assert_eq!(jobs[1].settings(), pinned);
    // Asked again (the page has no numbers yet): not computed twice.
    scheduler.want(now, [Kind::Drop; 8], None, 0, Some(pinned));
    assert!(matches!(scheduler.next().unwrap().0, Job::Chart(_)));
    // A new engine computes it again.
    scheduler.engine_replaced(2);
    let (job, ticket) = scheduler.next().unwrap();
    assert!(scheduler.done(&job, ticket));
    assert!(matches!(scheduler.next().unwrap().0, Job::Pinned(_)));
}

#[test]
fn newer_settings_make_running_work_stale() {
    let mut scheduler = Scheduler::default();
    scheduler.engine_replaced(1);
    let first = Settings::default();
    scheduler.want(first.clone(), [Kind::Drop; 8], None, 0, None);
    let (job, ticket) = scheduler.next().unwrap();
    assert!(scheduler.is_current(ticket));
    let mut newer = Settings::default();
    newer.set("fc7=noise:0.5").unwrap();
    scheduler.want(newer.clone(), [Kind::Drop; 8], None, 0, None);
    assert!(!scheduler.is_current(ticket), "the running job can stop");
    // Finished anyway (same engine): sent as superseded, and the newest comes next.
    assert!(scheduler.done(&job, ticket));
    assert_eq!(scheduler.next().unwrap().0, Job::Show(newer));
}

#[test]
fn work_of_a_replaced_engine_is_not_sent_and_everything_is_redone() {
    let mut scheduler = Scheduler::default();
    scheduler.engine_replaced(1);
    scheduler.want(Settings::default(), [Kind::Units; 8], None, 0, None);
    let (job, ticket) = scheduler.next().unwrap();
    assert!(scheduler.done(&job, ticket));
    let (chart_job, chart_ticket) = scheduler.next().unwrap();
    scheduler.engine_replaced(2);
    assert!(!scheduler.is_current(chart_ticket));
    assert!(
        !scheduler.done(&chart_job, chart_ticket),
        "not sent: another model's point"
    );
    let (job, ticket) = scheduler.next().unwrap();
    assert_eq!(
        job,
        Job::Show(Settings::default()),
        "the new engine shows the settings"
    );
    assert_eq!(ticket.generation, 2);
}

#[test]
fn a_chart_job_damages_only_its_layer() {
    let job = Job::Chart((Layer::Conv3, Kind::Prune, 9, 70));
    let settings = job.settings();
    assert_eq!(settings.seed, 9);
    assert_eq!(settings.layers.len(), 1);
    let damage = settings.layers[&Layer::Conv3];
    assert_eq!(damage.kind, Kind::Prune);
    assert_eq!(damage.amount, Kind::Prune.slider_amount(70));
}

#[test]
fn figure_geometry() {
    use lesion::web::page::figure;
    assert_eq!(figure::x(0.0), figure::LEFT);
    assert_eq!(figure::x(100.0), figure::LEFT + figure::PLOT_W);
    assert_eq!(figure::y(0.0), figure::TOP + figure::PLOT_H);
    assert_eq!(figure::y(figure::MAX_REL), figure::TOP);
    assert_eq!(figure::y(5.0), figure::TOP, "clamped");
    let points = [
        (10, 0.9, 0.8, 1.0),
        (20, f64::NAN, 0.0, 1.0),
        (30, 0.0, 0.0, 0.1),
    ];
    let curve = figure::curve(&points);
    assert_eq!(
        curve.split(' ').count(),
        3,
        "the intact point and the finite ones: {curve}"
    );
    let band = figure::band(&points);
    assert_eq!(band.split(' ').count(), 6, "upper then lower edge: {band}");
    assert_eq!(figure::values(&points[..1]), "10:0.9");
    // The current setting on its curve: computed, or between computed points.
    assert_eq!(figure::at(&points, 10), Some(0.9));
    assert!((figure::at(&points, 5).unwrap() - 0.95).abs() < 1e-12);
    assert!(
        (figure::at(&points, 20).unwrap() - 0.45).abs() < 1e-12,
        "NaN skipped"
    );
    assert_eq!(figure::at(&points, 50), None, "not computed that far");
    assert_eq!(figure::at(&points, 0), None, "intact");
    assert!(figure::describe(Layer::Fc6, Kind::Drop, &[], 10).contains("not computed yet"));
    assert!(
        figure::describe(Layer::Fc6, Kind::Drop, &points[..1], 10)
            .contains("10% of weights removed keeps 90%")
    );
    let claim = figure::claim(Layer::Conv1, Kind::Drop).expect("the paper says something of conv1");
    assert_eq!(claim.x, figure::x(70.0));
    assert!(!claim.above);
    assert!(figure::claim(Layer::Fc7, Kind::Drop).unwrap().above);
    assert!(
        figure::claim(Layer::Conv1, Kind::Noise).is_none(),
        "the paper removed weights"
    );
    assert!(figure::claim(Layer::Conv3, Kind::Drop).is_none());
    assert_eq!(figure::x_ticks(Kind::Drop)[5], (100, "100%".to_string()));
    assert!(figure::x_title(&[Kind::Prune; 8]).contains("smallest first"));
    let mut mixed = [Kind::Drop; 8];
    mixed[3] = Kind::Noise;
    assert!(figure::x_title(&mixed).contains("its own kind"));
}

#[test]
fn the_pages_words() {
    assert_eq!(text::pct(0.625), "62.5%");
    assert_eq!(text::pct(f64::NAN), "–");
    assert_eq!(
        text::relative(0.62, "top-1", 0.5, 0.55, 0.7),
        "keeps 62% of the intact model's top-1 (50.0%) · 95% CI 55%–70%"
    );
    assert_eq!(text::count(37748736), "37,748,736");
    assert_eq!(text::count(999), "999");
    assert_eq!(text::shape(&[64, 3, 11, 11]), "64×3×11×11");
    assert_eq!(text::gone(None), None);
    assert_eq!(
        text::gone(Some(Damage::new(Kind::Drop, 0.7).unwrap())),
        Some(0.7)
    );
    assert_eq!(
        text::gone(Some(Damage::new(Kind::Noise, 0.7).unwrap())),
        None
    );
    for kind in Kind::ALL {
        assert!(text::kind_sentence(kind).starts_with(kind.name()));
    }
    assert_eq!(
        text::interval(0.5, 0.7, 60, 100),
        "95% CI 50.0%–70.0% · 60/100"
    );
    assert!(text::badge(&model(false).model).1.starts_with("DEMO model"));
    assert_eq!(text::guess(None), "no answer (NaN)");
    assert!(
        text::device_line(&model(true))
            .starts_with("Running on WebGPU (test) · intact model classified 4 images")
    );
}

#[test]
fn replies_survive_the_wire_and_bad_bytes_are_a_protocol_failure() {
    let settings = Settings {
        seed: u64::MAX,
        ..Settings::default()
    };
    for reply in [
        Reply::Ready,
        Reply::Loaded(Box::new(model(true))),
        Reply::Results(Box::new(results(&settings, [0, 1, 1, 0]))),
        Reply::LoadFailed(Failure::Verification {
            file: "alexnet.safetensors".into(),
            message: "sha256 differs".into(),
        }),
    ] {
        let sent = envelope(7, reply);
        let bytes = protocol::to_bytes(&sent).unwrap();
        assert_eq!(protocol::from_bytes(&bytes).unwrap(), sent);
    }
    assert!(matches!(
        protocol::from_bytes(&[0xFF, 0xFF]),
        Err(Failure::Protocol(_))
    ));
}

/// Requests go as postcard bytes too: every kind survives, seeds above 2^53 included, and
/// bytes that are no request are a protocol failure.
#[test]
fn requests_survive_the_wire_and_bad_bytes_are_a_protocol_failure() {
    let query = "?seed=18446744073709551615&conv1=drop:0.5&fc6=noise:0.2";
    let settings = share::parse(query).settings;
    assert_eq!(settings.seed, u64::MAX);
    let mut state = page(query);
    for request in [
        state.ask(12.0),
        Request::Evaluate {
            settings: settings.clone(),
            kinds: [Kind::Bitflip; 8],
            first: Some(Layer::Fc7),
            inspect: 99,
            pinned: Some(settings),
        },
        Request::ForgetWeights,
    ] {
        let bytes = protocol::request_to_bytes(&request).unwrap();
        assert_eq!(protocol::request_from_bytes(&bytes).unwrap(), request);
    }
    assert!(matches!(
        protocol::request_from_bytes(&[0xFF, 0xFF, 0xFF]),
        Err(Failure::Protocol(_))
    ));
}

/// The shim in `public/worker.js` writes a start failure's bytes itself (the WebAssembly
/// that would encode it did not start): they must be what the page decodes.
#[test]
fn the_js_shims_start_failure_is_the_protocols() {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/public/worker.js")).unwrap();
    let start = source
        .find("export function startFailed")
        .expect("the shim's encoder");
    let end = start + source[start..].find("\n}\n").expect("its end") + 2;
    let function = source[start..end].replacen("export ", "", 1);
    let texts = ["boom", "é→✓ CompileError", &"x".repeat(300)];
    let script = format!(
        "{function}\nfor (const t of {}) console.log(JSON.stringify(Array.from(startFailed(t))));",
        serde_json::to_string(&texts).unwrap()
    );
    let out = std::process::Command::new("node")
        .args(["-e", &script])
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), texts.len());
    for (text, line) in texts.iter().zip(lines) {
        let bytes: Vec<u8> = serde_json::from_str(&line).unwrap();
        let expected = envelope(0, Reply::StartFailed(text.to_string()));
        assert_eq!(bytes, protocol::to_bytes(&expected).unwrap(), "{text}");
        assert_eq!(protocol::from_bytes(&bytes).unwrap(), expected);
    }
}

#[test]
fn a_worker_whose_script_never_starts_is_an_error_at_once() {
    // A worker script that fails to load fires `error` before it says Ready: with the
    // GPU allowed, the page used to start a second worker on the CPU, failing the same way.
    let mut state = page("");
    let effects = on_reply(
        &mut state,
        envelope(0, Reply::Crashed("worker script: 404".into())),
        0.0,
    );
    assert!(effects.is_empty(), "{effects:?}");
    let Phase::Failed(failure) = &state.phase else {
        panic!("{:?}", state.phase)
    };
    assert!(failure.to_string().contains("could not start"), "{failure}");
}

#[test]
fn downloads_are_tried_three_times_with_growing_pauses_and_only_when_it_can_help() {
    use lesion::web::worker::retry::{Miss, TRIES, gave_up, pause_ms};
    assert_eq!(TRIES, 3);
    let stalled = Miss::Stalled;
    assert_eq!(pause_ms(1, &stalled), Some(1_000));
    assert_eq!(pause_ms(2, &stalled), Some(3_000));
    assert_eq!(pause_ms(3, &stalled), None);
    for retried in [
        Miss::Broken("reset".into()),
        Miss::Status(503, "Service Unavailable".into()),
        Miss::Status(429, String::new()),
    ] {
        assert!(pause_ms(1, &retried).is_some(), "{retried:?}");
    }
    for final_ in [
        Miss::Status(404, "Not Found".into()),
        Miss::Final("too large".into()),
    ] {
        assert_eq!(pause_ms(1, &final_), None, "{final_:?}");
    }
    let said = gave_up(3, &stalled);
    assert!(
        said.contains("no data for 10 s") && said.contains("tried 3 times"),
        "{said}"
    );
    assert_eq!(
        gave_up(1, &Miss::Status(404, "Not Found".into())),
        "HTTP 404 Not Found"
    );
}

#[test]
fn picked_weights_are_custom_whatever_their_manifest_claims() {
    use lesion::model::manifest;
    use lesion::web::protocol::{MAX_PICKED_BYTES, PickedFile};
    use lesion::web::worker::picked::weights_from_files;
    let info = ModelInfo {
        kind: ModelKind::Official,
        name: "official".into(),
        source: "torchvision".into(),
    };
    let pth = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/reference/alexnet_tiny.pth"
    );
    let weights = lesion::model::pth::read_pth(std::path::Path::new(pth), info).unwrap();
    let (manifest, bytes) = manifest::encode(&weights, Some("7be5be79".repeat(8)));
    assert_eq!(manifest.model.kind, ModelKind::Official);
    let files = vec![
        ("manifest.json".to_string(), manifest.to_json().into_bytes()),
        ("alexnet.safetensors".to_string(), bytes),
    ];
    let picked = weights_from_files(&files).unwrap();
    assert_eq!(picked.info().kind, ModelKind::Custom);
    assert!(picked.info().source.contains("from this computer"));
    // The web format stores f16: the same tensors, rounded.
    let shapes = |w: &lesion::model::Weights| -> Vec<Vec<usize>> {
        w.tensors().values().map(|t| t.shape().to_vec()).collect()
    };
    assert_eq!(shapes(&picked), shapes(&weights));
    // Larger than any AlexNet: refused by size alone.
    let huge = PickedFile {
        name: "film.safetensors".into(),
        size: MAX_PICKED_BYTES + 1,
    };
    let refused = huge.check_size().unwrap_err().to_string();
    assert!(refused.contains("not read"), "{refused}");
    let fine = PickedFile {
        name: "alexnet.safetensors".into(),
        size: 122_000_000,
    };
    assert!(fine.check_size().is_ok());
}

/// A block's amount is short enough to sit beside the layer's shape; the full words stay in
/// the slider's description.
#[test]
fn a_blocks_amount_is_a_few_words() {
    let short = |text: &str| {
        let d = share::parse(&format!("?conv1={text}")).settings.layers[&Layer::Conv1];
        text::amount_short(Some(d))
    };
    assert_eq!(short("drop:0.5"), "50% removed");
    assert_eq!(short("prune:0.7"), "70% smallest gone");
    assert_eq!(short("units:0.25"), "25% of units gone");
    assert_eq!(short("noise:0.5"), "noise 0.50×std");
    assert_eq!(short("bitflip:0.001"), "0.10% of bits flipped");
    assert_eq!(text::amount_short(None), "intact");
    for kind in Kind::ALL {
        let d = Damage::new(kind, kind.slider_max()).unwrap();
        assert!(
            text::amount_short(Some(d)).chars().count() <= 20,
            "{kind:?}"
        );
    }
}
