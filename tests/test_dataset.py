"""Dataset stage: clip discovery and the labels CSV, with their one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from femo.config import ConfigError, DatasetConfig, MappingConfig
from femo.dataset import Clip, Labels, discover_clips, read_labels

THREE = MappingConfig()
SEVEN = MappingConfig(
    name="seven",
    classes=("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"),
    emotions={e: e for e in ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")},
)


pytestmark = pytest.mark.usefixtures("no_tensorflow")


def touch(root: Path, *names: str) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def one_line(exc: pytest.ExceptionInfo) -> str:
    message = str(exc.value)
    assert "\n" not in message
    return message


# ---------------------------------------------------------------- discover_clips


def test_discover_clips_recursive_sorted_with_kinds(tmp_path):
    touch(
        tmp_path,
        "b.mp4",
        "a/z.avi",
        "a/sub/deep.MOV",  # extensions match case-insensitively
        "A.JPG",
        "c.png",
        "pic.JpEg",
        "notes.txt",  # not a clip
        "labels.csv",
        "noext",
        "video.mp4.part",
        ".hidden.mp4",  # hidden files are ignored ...
        ".cache/x.mp4",  # ... and so are hidden folders
        "a/.y.mp4",
    )
    clips = discover_clips(DatasetConfig(root=str(tmp_path)))
    assert clips == [
        Clip("A.JPG", "image"),
        Clip("a/sub/deep.MOV", "video"),
        Clip("a/z.avi", "video"),
        Clip("b.mp4", "video"),
        Clip("c.png", "image"),
        Clip("pic.JpEg", "image"),
    ]
    assert [c.video for c in clips] == sorted(c.video for c in clips)
    # Same folder, same answer.
    assert discover_clips(DatasetConfig(root=str(tmp_path))) == clips


def test_discover_clips_honours_configured_extensions(tmp_path):
    touch(tmp_path, "a.mp4", "b.webm", "c.jpg", "d.xyz")
    config = DatasetConfig(
        root=str(tmp_path), video_extensions=(".XYZ",), image_extensions=(".jpg",)
    )
    assert discover_clips(config) == [Clip("c.jpg", "image"), Clip("d.xyz", "video")]


def test_discover_clips_missing_root(tmp_path):
    root = tmp_path / "nope"
    with pytest.raises(ConfigError) as exc:
        discover_clips(DatasetConfig(root=str(root)))
    assert one_line(exc) == f"dataset.root {root} does not exist"


def test_discover_clips_root_is_a_file(tmp_path):
    root = tmp_path / "clip.mp4"
    root.write_bytes(b"x")
    with pytest.raises(ConfigError) as exc:
        discover_clips(DatasetConfig(root=str(root)))
    assert one_line(exc) == f"dataset.root {root} is not a folder"


def test_discover_clips_empty_folder(tmp_path):
    touch(tmp_path, "readme.txt", ".hidden.mp4", "sub/notes.md")
    with pytest.raises(ConfigError) as exc:
        discover_clips(DatasetConfig(root=str(tmp_path)))
    message = one_line(exc)
    assert message.startswith(f"dataset.root {tmp_path} holds no clips (searched for ")
    assert ".mp4" in message and ".jpg" in message


def test_discover_clips_root_not_set():
    with pytest.raises(ConfigError, match=r"^dataset.root is not set$"):
        discover_clips(DatasetConfig(root=None))


# ------------------------------------------------------------------- read_labels


@pytest.fixture
def clips(tmp_path) -> list[Clip]:
    names = ["a.mp4", "b.mp4", "c.mp4", "d.jpg", "sub/e.mp4"]
    touch(tmp_path / "clips", *names)
    return discover_clips(DatasetConfig(root=str(tmp_path / "clips")))


def write_csv(tmp_path: Path, text: str, name: str = "labels.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_labels_matches_classes_case_insensitively(tmp_path, clips):
    path = write_csv(
        tmp_path,
        "video,label\n"
        "a.mp4,positive\n"
        "b.mp4, NEGATIVE \n"
        "c.mp4,Neutral\n"
        "d.jpg,\n"  # empty label: unlabelled
        "./sub/e.mp4,PoSiTiVe\n"
        "gone.mp4,Neutral\n"  # its clip is not in the dataset
        "sub/gone2.mp4,\n",
    )
    labels = read_labels(path, DatasetConfig(), THREE, clips)
    assert labels.by_video == {
        "a.mp4": "Positive",
        "b.mp4": "Negative",
        "c.mp4": "Neutral",
        "sub/e.mp4": "Positive",
    }
    assert labels.missing_clips == ["gone.mp4", "sub/gone2.mp4"]
    assert labels.unknown == {}


def test_read_labels_with_bom_and_extra_columns(tmp_path, clips):
    path = tmp_path / "labels.csv"
    path.write_bytes("\ufeffvideo,subject,label\na.mp4,s1,Negative\n".encode())
    labels = read_labels(path, DatasetConfig(), THREE, clips)
    assert labels == Labels(by_video={"a.mp4": "Negative"})


def test_read_labels_duplicate_clip_names_the_line(tmp_path, clips):
    path = write_csv(tmp_path, "video,label\na.mp4,Positive\nb.mp4,Neutral\n./a.mp4,Negative\n")
    with pytest.raises(ConfigError) as exc:
        read_labels(path, DatasetConfig(), THREE, clips)
    assert one_line(exc) == (
        f"labels file {path}, line 4: clip 'a.mp4' is listed twice (first on line 2)"
    )


def test_read_labels_empty_video_cell(tmp_path, clips):
    path = write_csv(tmp_path, "video,label\na.mp4,Positive\n,Neutral\n")
    with pytest.raises(ConfigError) as exc:
        read_labels(path, DatasetConfig(), THREE, clips)
    assert one_line(exc) == f"labels file {path}, line 3: empty 'video'"


@pytest.mark.parametrize(
    ("text", "missing", "key", "columns"),
    [
        ("clip,label\na.mp4,Positive\n", "video", "video_column", "clip, label"),
        ("video,emotion\na.mp4,happy\n", "label", "label_column", "video, emotion"),
        ("Video,Label\na.mp4,Positive\n", "video", "video_column", "Video, Label"),
        ("", "video", "video_column", "none"),
    ],
)
def test_read_labels_missing_column_lists_the_columns(tmp_path, clips, text, missing, key, columns):
    path = write_csv(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        read_labels(path, DatasetConfig(), THREE, clips)
    assert one_line(exc) == (
        f"labels file {path} has no {missing!r} column (dataset.{key}); its columns are: {columns}"
    )


def test_read_labels_custom_columns(tmp_path, clips):
    path = write_csv(
        tmp_path,
        "file,label,emotion\na.mp4,Positive,happy\nb.mp4,Negative,Disgust\nc.mp4,Neutral,\n",
    )
    config = DatasetConfig(video_column="file", label_column="emotion")
    labels = read_labels(path, config, SEVEN, clips)
    assert labels.by_video == {"a.mp4": "happy", "b.mp4": "disgust"}
    # The same file read for the 3-class column.
    labels = read_labels(path, DatasetConfig(video_column="file"), THREE, clips)
    assert labels.by_video == {"a.mp4": "Positive", "b.mp4": "Negative", "c.mp4": "Neutral"}


def test_read_labels_unknown_label_is_an_error_by_default(tmp_path, clips):
    path = write_csv(
        tmp_path, "video,label\na.mp4,Happy\nb.mp4,contempt\nc.mp4,Happy\nd.jpg,Neutral\n"
    )
    with pytest.raises(ConfigError) as exc:
        read_labels(path, DatasetConfig(), THREE, clips)
    assert one_line(exc) == (
        f"labels file {path}: 3 label(s) not in mapping 'three_class' (Happy, contempt); "
        "classes are Positive, Neutral, Negative. "
        "Set dataset.unknown_labels=unlabelled to treat them as unlabelled."
    )


def test_read_labels_unknown_labels_as_unlabelled(tmp_path, clips):
    path = write_csv(
        tmp_path, "video,label\na.mp4,Happy\nb.mp4,contempt\nd.jpg,Neutral\nx.mp4,bogus\n"
    )
    labels = read_labels(path, DatasetConfig(unknown_labels="unlabelled"), THREE, clips)
    assert labels.by_video == {"d.jpg": "Neutral"}
    assert labels.unknown == {"a.mp4": "Happy", "b.mp4": "contempt"}
    assert labels.missing_clips == ["x.mp4"]  # a missing clip's label is never checked


def test_read_labels_missing_file(tmp_path, clips):
    with pytest.raises(ConfigError) as exc:
        read_labels(tmp_path / "nope.csv", DatasetConfig(), THREE, clips)
    assert one_line(exc) == f"labels file {tmp_path / 'nope.csv'} does not exist"


def test_read_labels_not_utf8(tmp_path, clips):
    path = tmp_path / "labels.csv"
    path.write_bytes(b"video,label\n\xff\xfe\xfa.mp4,Positive\n")
    with pytest.raises(ConfigError) as exc:
        read_labels(path, DatasetConfig(), THREE, clips)
    assert one_line(exc).startswith(f"labels file {path} is not a readable CSV: ")


# ------------------------------------------------------------------ label paths


def test_absolute_label_paths_inside_the_root_become_clip_ids(tmp_path):
    root = tmp_path / "clips"
    touch(root, "a.mp4", "sub/b.mp4")
    clips = discover_clips(DatasetConfig(root=str(root)))
    labels_csv = write_csv(
        tmp_path, f"video,label\n{root / 'a.mp4'},Positive\n{root}/sub/../sub/b.mp4,Negative\n"
    )
    labels = read_labels(labels_csv, DatasetConfig(root=str(root)), MappingConfig(), clips)
    assert labels.by_video == {"a.mp4": "Positive", "sub/b.mp4": "Negative"}


@pytest.mark.parametrize(
    ("video", "message"),
    [
        ("/elsewhere/a.mp4", "'/elsewhere/a.mp4' is outside dataset.root"),
        ("../a.mp4", "'../a.mp4' escapes dataset.root"),
        ("sub/../../a.mp4", "'sub/../../a.mp4' escapes dataset.root"),
    ],
)
def test_label_paths_outside_the_root_are_refused_by_name(tmp_path, video, message):
    root = tmp_path / "clips"
    touch(root, "a.mp4")
    clips = discover_clips(DatasetConfig(root=str(root)))
    labels_csv = write_csv(tmp_path, f"video,label\n{video},Positive\n")
    with pytest.raises(ConfigError) as exc:
        read_labels(labels_csv, DatasetConfig(root=str(root)), MappingConfig(), clips)
    assert str(exc.value) == f"labels file {labels_csv}, line 2: {message}" + (
        f" {root}; clips are named relative to the root"
        if "outside" in message
        else "; clips are inside the root"
    )
