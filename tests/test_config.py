"""Every option of every config group composes with Hydra and becomes the typed config."""

from __future__ import annotations

import dataclasses
import itertools
import os
import pickle
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

import femo.cli
import femo.rundir
from femo.config import (
    DEFAULTED_GROUPS,
    DEFAULTED_ROOT,
    EMOTIONS,
    PLUGIN_GROUPS,
    BlazeFaceConfig,
    ClassifierConfig,
    ConfigError,
    DatasetConfig,
    ExtractConfig,
    HaarConfig,
    IdentityConfig,
    LauncherSection,
    MappingConfig,
    MtcnnConfig,
    ReduceConfig,
    ReportConfig,
    RunConfig,
    SamplingConfig,
    ShardsConfig,
    compose_option,
    from_dict,
    merge_defaults,
    to_dict,
    yaml_defaults,
)
from femo.launchers import launcher_config
from femo.launchers.local import LocalLauncherConfig
from femo.launchers.settings import launcher_defaults, register_defaults
from femo.launchers.sge import SgeLauncherConfig
from femo.launchers.slurm import SlurmLauncherConfig

REPO = Path(__file__).resolve().parents[1]
CONF = REPO / "conf"
OPTION_FILES = sorted(CONF.glob("*/*.yaml"))
OPTIONS = [(p.parent.name, p.stem) for p in OPTION_FILES]
GROUPS = sorted({g for g, _ in OPTIONS})


pytestmark = pytest.mark.usefixtures("no_tensorflow")


@pytest.fixture(scope="module")
def hydra_compose():
    OmegaConf.register_new_resolver("femo_run_name", femo.rundir.run_name, replace=True)
    # The real resolver claims the folder on disk; composing must not.
    OmegaConf.register_new_resolver("femo_claim", lambda path: path, replace=True)
    register_defaults()  # the sections' and the launchers'
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):

        def composed(*overrides: str, hydra: bool = False):
            return compose("config", overrides=list(overrides), return_hydra_config=hydra)

        yield composed


def resolved(cfg) -> dict:
    """The non-hydra part of a composed config as plain containers, as the CLI hands it on."""
    container = OmegaConf.to_container(cfg, resolve=True)
    for key in femo.cli.ENTRY_KEYS:
        container.pop(key, None)
    return container


def build(hydra_compose, *overrides: str, base_dir: str = "/base") -> RunConfig:
    return from_dict(resolved(hydra_compose(*overrides)), base_dir=base_dir)


def test_the_config_groups_are_all_found():
    assert set(GROUPS) >= {"dataset", "detector", "sampling", "mapping", "reduce", "launcher"}
    assert set(OPTIONS) >= {
        ("dataset", "folder"),
        ("detector", "haar"),
        ("detector", "mtcnn"),
        ("sampling", "every_n"),
        ("sampling", "fps"),
        ("mapping", "three_class"),
        ("mapping", "seven"),
        ("reduce", "first"),
        ("reduce", "largest"),
        ("launcher", "local"),
    }
    # The package ships the same config folder.
    assert (REPO / "femo" / "conf").resolve() == CONF.resolve()


def typed_section(config: RunConfig, group: str):
    return {
        "dataset": config.dataset,
        "detector": config.extract.detector,
        "sampling": config.extract.sampling,
        "mapping": config.mapping,
        "reduce": config.reduce,
        "launcher": launcher_config(config.launcher),
        "identity": config.identity,
        "classifier": config.extract.classifier,
        "landmarks": config.extract.landmarks,
    }[group]


# Options that need keys of their own set before they compose into a config: the
# example their registry entry gives.
REQUIRED = {
    (group, entry.name): dict(entry.example)
    for group, registry in PLUGIN_GROUPS.items()
    for entry in registry
    if entry.example
}


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_every_option_composes_into_the_typed_config(hydra_compose, group, option):
    """Generic: each key of the option's YAML lands, typed, in the built config."""
    required = REQUIRED.get((group, option), {})
    given = [f"{group}.{k}={v}".replace("'", "").replace(" ", "") for k, v in required.items()]
    cfg = hydra_compose(f"{group}={option}", *given)
    config = from_dict(resolved(cfg), base_dir="/base")
    # The option's own values over its section's dataclass defaults.
    option_yaml = OmegaConf.to_container(OmegaConf.load(CONF / group / f"{option}.yaml"))
    if group == "launcher":
        yaml = merge_defaults(launcher_defaults(option), option_yaml)
    else:
        yaml = compose_option(group, option_yaml)
    assert resolved(cfg)[group] == {**yaml, **required}
    yaml = {k: v for k, v in yaml.items() if k not in required}
    section = typed_section(config, group)
    if isinstance(section, dict):
        assert section == yaml
        return
    for key, value in yaml.items():
        if group == "dataset" and key in ("root", "labels"):
            expected = None if value is None else os.path.normpath(os.path.join("/base", value))
        elif key.endswith("_extensions"):
            expected = tuple(e.lower() if e.startswith(".") else "." + e.lower() for e in value)
        elif isinstance(value, list):
            expected = tuple(value)
        else:
            expected = value
        assert getattr(section, key) == expected, key
    # Typed configs are what submitit pickles.
    assert pickle.loads(pickle.dumps(config)) == config
    hash(config.extract)  # get_extractor caches on it


def test_haar_values(hydra_compose):
    detector = build(hydra_compose, "detector=haar").extract.detector
    assert detector == HaarConfig(
        name="haar", scale_factor=1.1, min_neighbors=5, min_size=50, offsets=(10, 10)
    )
    assert type(detector.offsets) is tuple
    assert type(detector.min_neighbors) is int and type(detector.scale_factor) is float


def test_mtcnn_values(hydra_compose):
    detector = build(hydra_compose, "detector=mtcnn").extract.detector
    assert detector.name == "mtcnn"
    assert detector.scale_factor == 0.709
    assert detector.min_face_size == 20
    assert detector.offsets == (10, 10)
    # Without a scale factor, each detector gets its own default.
    assert MtcnnConfig(scale_factor=None).scale_factor == 0.709
    assert HaarConfig(scale_factor=None).scale_factor == 1.1


def test_blazeface_values(hydra_compose):
    detector = build(hydra_compose, "detector=blazeface").extract.detector
    assert (detector.name, detector.model, detector.min_score, detector.nms_iou) == (
        "blazeface",
        "short/back",
        None,
        0.3,
    )
    assert detector.offsets == (10, 10)
    assert not hasattr(detector, "scale_factor")  # BlazeFace has no image pyramid
    assert (detector.verify, detector.verify_below, detector.verify_min) == ("evidence", None, 0.05)
    assert detector.min_face == 48
    assert detector == BlazeFaceConfig()  # the preset is the class's defaults
    # Haar and MTCNN configs carry no BlazeFace key.
    assert not hasattr(HaarConfig(), "model") and not hasattr(MtcnnConfig(), "model")


def test_sampling_values(hydra_compose):
    every_n = build(hydra_compose, "sampling=every_n").extract.sampling
    assert every_n == SamplingConfig(mode="every_n", every_n=20, fps=None, max_frames=None)
    fps = build(hydra_compose, "sampling=fps", "sampling.fps=5").extract.sampling
    assert fps == SamplingConfig(mode="fps", every_n=None, fps=5, max_frames=None)
    assert fps.step_for(25.0) == 5
    limited = build(hydra_compose, "sampling.every_n=3", "sampling.max_frames=7").extract.sampling
    assert (limited.every_n, limited.max_frames, limited.step_for(30.0)) == (3, 7, 3)


def test_mapping_and_reduce_values(hydra_compose):
    three = build(hydra_compose, "mapping=three_class", "reduce=first")
    assert three.mapping == MappingConfig()
    assert three.mapping.emotions["surprise"] == "Positive"
    assert three.mapping.emotions["fear"] == "Neutral"
    assert three.reduce == ReduceConfig(
        face="first", vote="majority", score_decimals=2, allow_partial=False
    )
    seven = build(hydra_compose, "mapping=seven", "reduce=largest")
    assert seven.mapping.name == "seven"
    assert seven.mapping.classes == EMOTIONS
    assert seven.mapping.emotions == {e: e for e in EMOTIONS}
    assert seven.reduce == ReduceConfig(face="largest")
    assert seven.mapping.class_named(" HAPPY ") == "happy"
    assert three.mapping.class_named("happy") is None


def test_defaults(hydra_compose):
    config = build(hydra_compose)
    assert config.dataset.root is None and config.dataset.labels is None  # the demo dataset
    assert config.dataset.unknown_labels == "error"
    assert ".webp" in config.dataset.image_extensions and ".mpg" in config.dataset.video_extensions
    assert config.extract == ExtractConfig(
        detector=HaarConfig(),
        sampling=SamplingConfig(every_n=20),
        batch_size=None,
        device="auto",
        threads=None,
        classifier=ClassifierConfig(backend="onnx"),
    )
    assert config.videos_per_shard == 16
    assert launcher_config(config.launcher) == LocalLauncherConfig(
        workers=None, threads_per_worker=None
    )


def test_launcher_threads_reach_the_extract_config(hydra_compose):
    config = build(
        hydra_compose, "launcher=local", "launcher.threads_per_worker=3", "launcher.workers=2"
    )
    assert config.extract.threads == 3
    assert launcher_config(config.launcher).workers == 2


def test_options_of_different_groups_combine(hydra_compose):
    """detector x sampling x reduce in full; the other groups' options cycle through."""
    others = {g: [o for gg, o in OPTIONS if gg == g] for g in GROUPS}
    combos = list(itertools.product(("haar", "mtcnn"), ("every_n", "fps"), ("first", "largest")))
    for i, (detector, sampling, face) in enumerate(combos):
        overrides = [f"detector={detector}", f"sampling={sampling}", f"reduce={face}"]
        overrides += [
            f"{g}={opts[i % len(opts)]}"
            for g, opts in others.items()
            if g not in ("detector", "sampling", "reduce")
        ]
        for (group, option), required in REQUIRED.items():
            if f"{group}={option}" in overrides:
                overrides += [f"{group}.{k}={v}".replace("'", "").replace(" ", "")
                              for k, v in required.items()]  # fmt: skip
        config = build(hydra_compose, *overrides)
        assert config.extract.detector.name == detector
        assert config.extract.detector.scale_factor == (1.1 if detector == "haar" else 0.709)
        assert config.extract.sampling.mode == sampling
        assert config.extract.sampling.step_for(25.0) == (20 if sampling == "every_n" else 25)
        assert config.reduce.face == face
        assert pickle.loads(pickle.dumps(config)) == config


def test_run_folder_name(hydra_compose):
    cfg = hydra_compose(
        "dataset.root=/data/dev-clips",
        "detector=mtcnn",
        "sampling=fps",
        "output_root=/out",
        hydra=True,
    )
    run_dir = cfg.hydra.run.dir
    assert run_dir.startswith("/out/")
    assert run_dir.endswith("-dev-clips-mtcnn-fps1.0")
    cfg = hydra_compose("output_root=/out", hydra=True)
    assert cfg.hydra.run.dir.endswith("-demo-haar-n20")
    assert femo.rundir.run_name("/x/clips/", "haar", "every_n", 5, None) == "clips-haar-n5"


@pytest.mark.parametrize(
    ("overrides", "name"),
    [
        ((), "dev-clips-haar-n20"),  # the study's run keeps its name
        (
            (
                "classifier=custom",
                "classifier.model=/m/affectnet8.onnx",
                "classifier.size=64",
                "classifier.labels=[neutral,happy,sad,surprise,fear,disgust,angry,drop]",
            ),
            "dev-clips-haar-n20-custom-affectnet8",
        ),  # fmt: skip
        (("landmarks=mesh",), "dev-clips-haar-n20-mesh"),
        (("identity=dlib",), "dev-clips-haar-n20-dlib"),
        (("dataset.segment_s=2",), "dev-clips-haar-n20-seg2s"),
        (("dataset.segment_frames=50",), "dev-clips-haar-n20-seg50f"),
        (("landmarks=mesh", "dataset.segment_s=2.5"), "dev-clips-haar-n20-mesh-seg2.5s"),
    ],
)
def test_run_folder_names_tell_runs_of_the_same_clips_apart(hydra_compose, overrides, name):
    """Issue 37: custom-classifier, mesh, identity and segmented runs of the dev clips
    were all dev-clips-haar-n20."""
    cfg = hydra_compose("dataset.root=/data/dev-clips", "output_root=/out", *overrides, hydra=True)
    assert cfg.hydra.run.dir.endswith(f"-{name}")


# ------------------------------------------------------------------------ paths


def test_relative_dataset_paths_are_made_absolute_against_base_dir(hydra_compose):
    config = build(
        hydra_compose,
        "dataset.root=clips",
        "dataset.labels=clips/../meta/labels.csv",
        base_dir="/data/project",
    )
    assert config.dataset.root == "/data/project/clips"
    assert config.dataset.labels == "/data/project/meta/labels.csv"
    absolute = build(hydra_compose, "dataset.root=/abs/clips", base_dir="/data/project")
    assert absolute.dataset.root == "/abs/clips"


def test_relative_dataset_root_defaults_to_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    config = from_dict({"dataset": {"root": "clips"}})
    assert config.dataset.root == str(tmp_path / "clips")


def test_home_in_dataset_root_is_expanded(monkeypatch):
    monkeypatch.setenv("HOME", "/home/someone")
    config = from_dict({"dataset": {"root": "~/clips"}}, base_dir="/elsewhere")
    assert config.dataset.root == "/home/someone/clips"


def test_extensions_are_normalised(hydra_compose):
    config = build(
        hydra_compose, "dataset.video_extensions=[MP4,.AVI]", "dataset.image_extensions=[jpg]"
    )
    assert config.dataset.video_extensions == (".mp4", ".avi")
    assert config.dataset.image_extensions == (".jpg",)


# ------------------------------------------------------------------- bad values


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sampling.every_n=0"], "sampling.every_n must be an integer >= 1, not 0"),
        (["sampling.every_n=2.5"], "sampling.every_n must be an integer >= 1, not 2.5"),
        (["sampling=fps", "sampling.fps=0"], "sampling.fps must be a number > 0, not 0"),
        (["sampling.mode=random"], "sampling.mode must be 'every_n' or 'fps', not 'random'"),
        (["sampling.max_frames=0"], "sampling.max_frames must be >= 1 or null, not 0"),
        (
            ["detector.name=foo"],
            "detector.name must be 'haar', 'mtcnn', 'blazeface' or 'none', not 'foo'",
        ),
        (
            ["detector=blazeface", "detector.model=short+wide"],
            "detector.model must be short, full, back, models joined by '+' (merged, e.g. short+back) "
            "or by '/' (a cascade, e.g. short/back), not 'short+wide'",
        ),
        (
            ["detector=blazeface", "detector.model=short/wide"],
            "detector.model must be short, full, back, models joined by '+' (merged, e.g. short+back) "
            "or by '/' (a cascade, e.g. short/back), not 'short/wide'",
        ),
        (
            ["detector=blazeface", "detector.model=short/back+full"],
            "detector.model must be short, full, back, models joined by '+' (merged, e.g. short+back) "
            "or by '/' (a cascade, e.g. short/back), not 'short/back+full'",
        ),
        (
            ["detector=blazeface", "detector.min_score=1.5"],
            "detector.min_score must be between 0 and 1 or null, not 1.5",
        ),
        (
            ["detector=blazeface", "detector.nms_iou=0"],
            "detector.nms_iou must be between 0 and 1, not 0",
        ),
        (
            ["detector.offsets=[1,2,3]"],
            "detector.offsets must be two integers [x, y], not (1, 2, 3)",
        ),
        (
            ["+detector.foo=1"],
            "unknown key 'detector.foo' (detector haar has: name, scale_factor, min_neighbors, "
            "min_size, offsets, downscale, verify, verify_below, verify_min)",
        ),
        (
            ["detector=blazeface", "+detector.scale_factor=1.2"],
            "unknown key 'detector.scale_factor' (detector blazeface has: name, offsets, "
            "downscale, model, min_score, nms_iou, verify, verify_below, verify_min, min_face)",
        ),
        (
            ["+sampling.stride=2", "+sampling.jitter=1"],
            "unknown key(s) in sampling: jitter, stride",
        ),
        (["+reduce.tie=last"], "unknown key(s) in reduce: tie"),
        (["+dataset.extension=.mp4"], "unknown key(s) in dataset: extension"),
        (["+mapping.order=1"], "unknown key(s) in mapping: order"),
        (
            ["reduce.face=biggest"],
            "reduce.face must be 'first', 'largest', 'main' or 'person', not 'biggest'",
        ),
        (
            ["reduce.vote=median"],
            "reduce.vote must be 'majority', 'mean' or 'balanced', not 'median'",
        ),
        (["reduce.no_face=skip"], "reduce.no_face must be 'wrong' or 'abstain', not 'skip'"),
        (
            ["dataset.unknown_labels=maybe"],
            "dataset.unknown_labels must be 'error' or 'unlabelled', not 'maybe'",
        ),
        (["device=tpu"], "device must be auto, cpu or gpu, not 'tpu'"),
        (
            ["classifier.backend=torch"],
            "classifier.backend must be 'keras' or 'onnx', not 'torch'",
        ),
        (["+classifier.threads=2"], "unknown key(s) in classifier: threads"),
        (["shards.videos_per_shard=0"], "shards.videos_per_shard must be >= 1, not 0"),
        (
            ["mapping.emotions.happy=Joy"],
            "mapping 'three_class' maps to Joy, which are not in its classes",
        ),
        (["~mapping.emotions.fear"], "mapping 'three_class' does not map emotion(s) fear"),
    ],
)
def test_bad_values_are_config_errors(hydra_compose, overrides, message):
    with pytest.raises(ConfigError) as exc:
        build(hydra_compose, *overrides)
    assert str(exc.value) == message


@pytest.mark.parametrize("value", ["abc", "0", "-1"])
def test_bad_batch_size_is_a_config_error(hydra_compose, value):
    with pytest.raises(ConfigError, match="batch_size"):
        build(hydra_compose, f"batch_size={value}")


@pytest.mark.parametrize(
    "overrides",
    [
        ["detector=haar", "detector.scale_factor=1.0"],
        ["detector=mtcnn", "detector.scale_factor=1.0"],
    ],
)
def test_impossible_scale_factor_is_a_config_error(hydra_compose, overrides):
    with pytest.raises(ConfigError, match="scale_factor"):
        build(hydra_compose, *overrides)


def test_typed_configs_reject_bad_values_without_hydra():
    with pytest.raises(ConfigError, match="every_n"):
        SamplingConfig(every_n=0)
    with pytest.raises(ConfigError, match="sampling.fps must be a number > 0, not None"):
        SamplingConfig(mode="fps", every_n=None)
    with pytest.raises(ConfigError, match="bad sampling config"):
        from_dict({"sampling": {"mode": "fps", "fps": "fast"}})
    with pytest.raises(ConfigError, match="unknown_labels"):
        DatasetConfig(unknown_labels="maybe")


# ---------------------------------------------------------------------- step_for


@pytest.mark.parametrize(
    ("video_fps", "fps", "step"),
    [
        (25.0, 5.0, 5),
        (25.0, 2.0, 12),  # fer: int(fps // save_fps)
        (25.0, 1.0, 25),
        (29.97, 1.0, 29),
        (30.0, 4.0, 7),
        (24.0, 24.0, 1),
        (10.0, 30.0, 1),  # asking for more than the clip has: every frame
        (0.0, 5.0, 1),  # no fps metadata
    ],
)
def test_step_for_fps_mode(video_fps, fps, step):
    assert SamplingConfig(mode="fps", every_n=None, fps=fps).step_for(video_fps) == step


def test_step_for_every_n_mode_ignores_the_clip_fps():
    sampling = SamplingConfig(mode="every_n", every_n=7)
    assert [sampling.step_for(f) for f in (0.0, 10.0, 25.0, 60.0)] == [7, 7, 7, 7]


# ------------------------------------------------------------------------ pickle


def test_typed_configs_pickle_round_trip():
    config = from_dict(
        {
            "dataset": {"root": "/d", "labels": "/d/l.csv", "unknown_labels": "unlabelled"},
            "detector": {"name": "mtcnn", "min_face_size": 30, "offsets": [5, 6]},
            "sampling": {"mode": "fps", "every_n": None, "fps": 2.5, "max_frames": 10},
            "mapping": {
                "name": "seven",
                "classes": list(EMOTIONS),
                "emotions": {e: e for e in EMOTIONS},
            },
            "reduce": {"face": "largest", "score_decimals": None, "allow_partial": True},
            "shards": {"videos_per_shard": 3},
            "launcher": {"name": "local", "workers": 2, "threads_per_worker": 4},
            "batch_size": 8,
            "device": "cpu",
        }
    )
    copy = pickle.loads(pickle.dumps(config))
    assert copy == config
    assert copy.extract.detector.offsets == (5, 6)
    assert copy.extract.sampling.step_for(25.0) == 10
    assert copy.extract.threads == 4 and copy.extract.batch_size == 8
    assert copy.reduce.score_decimals is None and copy.reduce.allow_partial is True
    assert copy.videos_per_shard == 3
    assert hash(copy.extract) == hash(config.extract)
    for part in (config.dataset, config.extract, config.mapping, config.reduce):
        assert pickle.loads(pickle.dumps(part)) == part


# -------------------------------------------------------------------- round trip


@pytest.mark.parametrize(("group", "option"), OPTIONS, ids=[f"{g}={o}" for g, o in OPTIONS])
def test_to_dict_and_from_dict_round_trip_every_option(hydra_compose, group, option):
    required = REQUIRED.get((group, option), {})
    given = [f"{group}.{k}={v}".replace("'", "").replace(" ", "") for k, v in required.items()]
    config = build(hydra_compose, f"{group}={option}", "dataset.root=clips", *given)
    saved = to_dict(config)
    assert set(saved) == {
        "dataset", "detector", "sampling", "mapping", "reduce", "report", "launcher", "shards",
        "device", "batch_size", "classifier", "identity", "landmarks",
    }  # fmt: skip
    assert from_dict(saved) == config
    assert to_dict(from_dict(saved)) == saved


def test_launcher_configs_are_typed(hydra_compose):
    slurm = launcher_config(
        build(
            hydra_compose,
            "launcher=slurm",
            "launcher.partition=gpu",
            "+launcher.extra_flags.constraint=a100",
        ).launcher
    )
    assert slurm == SlurmLauncherConfig(partition="gpu", extra_flags={"constraint": "a100"})
    assert slurm.setup == () and slurm.max_requeue == 3
    sge = launcher_config(
        build(
            hydra_compose, "launcher=sge", "+launcher.extra_flags.m=e", "launcher.pe=omp"
        ).launcher
    )
    assert sge == SgeLauncherConfig(extra_flags={"m": "e"}, pe="omp")
    assert (sge.mem_gb, sge.cpus_per_task, sge.array_cap) == (2, 1, 75000)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["launcher.workers=0"], "launcher.workers must be an integer >= 1 or null, not 0"),
        (["launcher.threads_per_worker=-2"], "launcher.threads_per_worker must be an integer >= 1 or null, not -2"),
        (["launcher=slurm", "+launcher.colour=red"], "unknown key(s) in launcher: colour"),
        (["launcher=slurm", "launcher.time_min=0"], "launcher.time_min must be an integer >= 1, not 0"),
        (["launcher=slurm", "launcher.mem_gb=two"], "launcher.mem_gb must be a number > 0 or null, not 'two'"),
        (["launcher=sge", "launcher.gpus=-1"], "launcher.gpus must be an integer >= 0, not -1"),
        (["launcher=none", "launcher.setup=module"], 'launcher.setup must be a list of shell lines, e.g. ["module load x"], not \'module\''),
        (["launcher=sge", "launcher.wait=maybe"], "launcher.wait must be true or false, not 'maybe'"),
        (["launcher=slurm", "launcher.max_requeue=-1"], "launcher.max_requeue must be an integer >= 0, not -1"),
        (["launcher=sge", "launcher.pe=null", "launcher.cpus_per_task=2"], "launcher.cpus_per_task > 1 needs a parallel environment, launcher.pe (e.g. smp; omp on BU SCC)"),
        (["launcher.name=pbs"], "unknown launcher 'pbs' (known: local, none, sge, slurm)"),
    ],
)  # fmt: skip
def test_bad_launcher_settings_are_config_errors(hydra_compose, overrides, message):
    with pytest.raises(ConfigError) as exc:
        launcher_config(build(hydra_compose, *overrides).launcher)
    assert str(exc.value) == message


def test_a_femo_0_2_manifest_is_read_in_todays_shape():
    legacy = {
        "dataset": {"root": "/d", "labels": None},
        "extract": {
            "detector": {"name": "mtcnn", "min_face_size": 30},
            "sampling": {"mode": "every_n", "every_n": 5},
            "batch_size": 8,
            "device": "cpu",
            "threads": None,
        },
        "mapping": to_dict(MappingConfig()),
        "reduce": {"face": "largest"},
        "videos_per_shard": 3,
        "launcher": {"name": "slurm", "partition": "gpu", "wait": True},
    }
    config = from_dict(legacy)
    assert config.detector == MtcnnConfig(min_face_size=30)
    assert config.sampling.every_n == 5 and config.videos_per_shard == 3
    assert (config.batch_size, config.device) == (8, "cpu")
    assert launcher_config(config.launcher) == SlurmLauncherConfig(partition="gpu", wait=True)
    assert config.classifier == ClassifierConfig(backend="keras")
    assert from_dict(to_dict(config)) == config


def test_the_classifier_backend_reaches_the_extract_config(hydra_compose):
    config = build(hydra_compose, "classifier.backend=onnx")
    assert config.extract.classifier == ClassifierConfig(backend="onnx")
    assert from_dict(to_dict(config)) == config


def test_a_manifest_without_a_classifier_was_made_with_keras():
    saved = to_dict(from_dict({"classifier": {"backend": "onnx"}}))
    del saved["classifier"]
    assert from_dict(saved).classifier == ClassifierConfig(backend="keras")


def test_unknown_top_level_keys_are_refused():
    with pytest.raises(ConfigError, match="unknown key\\(s\\): colour"):
        from_dict({"colour": "red"})


def test_the_shipped_report_settings_are_the_bootstrap_defaults(hydra_compose):
    """conf/config.yaml shows report.resamples/level/seed so they can be overridden; they
    must be the one settings object's values (femo.config.BOOTSTRAP)."""
    from femo.config import BOOTSTRAP, Bootstrap

    assert Bootstrap(resamples=2000, level=0.95, seed=0) == BOOTSTRAP
    assert build(hydra_compose).report.bootstrap == BOOTSTRAP


# ----------------------------------------------------- defaults in one place (the dataclasses)

DEFAULTED_OPTIONS = [(g, o) for g, o in OPTIONS if g in DEFAULTED_GROUPS]


@pytest.mark.parametrize(
    ("group", "option"), DEFAULTED_OPTIONS, ids=[f"{g}={o}" for g, o in DEFAULTED_OPTIONS]
)
def test_an_option_holds_only_what_differs_from_the_dataclass(group, option):
    """Each option composes on its section's dataclass defaults (``<group>_base`` first) and
    repeats none of them: every value it writes differs from the default."""
    values = OmegaConf.to_container(OmegaConf.load(CONF / group / f"{option}.yaml"))
    assert values["defaults"] == [f"/{group}_base@_here_", "_self_"]
    defaults = yaml_defaults(group)
    repeated = {k: v for k, v in values.items() if k != "defaults" and defaults.get(k) == v}
    assert repeated == {}
    assert set(values) - {"defaults"} <= set(defaults)


def test_config_yaml_holds_no_section_defaults():
    root = OmegaConf.to_container(OmegaConf.load(CONF / "config.yaml"))
    assert root["defaults"][-2:] == ["base", "_self_"]
    assert not set(root) & set(DEFAULTED_ROOT)
    assert set(root) == {"defaults", "output_root", "resume", "hydra"}


# What config.yaml composes where it differs from RunConfig(): the default options'
# own values (haar's fer parameters, the folder's file types, local's settings).
ROOT = RunConfig(
    dataset=DatasetConfig(
        video_extensions=(".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg",
                          ".wmv", ".flv", ".3gp"),
        image_extensions=(".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"),
    ),
    detector=HaarConfig(scale_factor=1.1, min_neighbors=5, min_size=50),
    launcher=LauncherSection("local", {"workers": None, "threads_per_worker": None}),
)  # fmt: skip


@pytest.mark.parametrize(
    ("overrides", "changes"),
    [
        ((), {}),
        (("reduce=largest",), {"reduce": ReduceConfig(face="largest")}),
        (("reduce=person",), {"reduce": ReduceConfig(face="person")}),
        (("sampling=fps",), {"sampling": SamplingConfig(mode="fps", every_n=None, fps=1.0)}),
        (("identity=dlib",), {"identity": IdentityConfig(name="dlib")}),
        (("mapping=seven",), {"mapping": MappingConfig(
            name="seven", classes=EMOTIONS, emotions={e: e for e in EMOTIONS})}),
        (("shards.part_clips=3", "report.min_units=4", "reduce.group_distance=0.4"),
         {"shards": ShardsConfig(part_clips=3), "report": ReportConfig(min_units=4),
          "reduce": ReduceConfig(group_distance=0.4)}),
    ],
    ids=["root", "largest", "person", "fps", "dlib", "seven", "keys"],
)  # fmt: skip
def test_composing_gives_the_dataclass_defaults_plus_the_options_deltas(
    hydra_compose, overrides, changes
):
    """What Hydra composes is the dataclasses' defaults with only the option's (or the
    command line's) own values changed; keys absent from the yaml still take overrides."""
    assert build(hydra_compose, *overrides) == dataclasses.replace(ROOT, **changes)


def test_femo_reduce_group_option_is_the_defaults_plus_the_option():
    """``femo reduce RUN reduce=largest`` replaces the saved section with the whole
    option: the dataclass defaults with the option's values."""
    from femo.overrides import apply_overrides

    saved = to_dict(RunConfig(reduce=ReduceConfig(vote="mean", group_distance=0.3)))
    cfg = apply_overrides(saved, ["reduce=largest", "mapping=seven"], "reduce")
    assert cfg["reduce"] == to_dict(ReduceConfig(face="largest"))
    assert cfg["mapping"] == to_dict(
        MappingConfig(name="seven", classes=EMOTIONS, emotions={e: e for e in EMOTIONS})
    )
