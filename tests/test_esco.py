import csv

import pytest

from nbhelpers.errors import InputError
from nbhelpers.esco import TUTORIAL_TITLES, load_esco, locate_titles, sample_dir


def test_sample_meets_the_brief(sample):
    summary = sample.summary()
    assert summary["occupations"] >= 300
    assert summary["unit_groups"] >= 40
    assert summary["major_groups"] >= 8
    assert sample.occupations.alt_labels.map(len).between(3, 8).all()
    assert (sample.occupations.description.str.len() > 20).all()
    # every group level of every unit group is described
    for code in sample.occupations.isco_group.unique():
        for n in (1, 2, 3, 4):
            assert code[:n] in sample.groups.index


def test_sample_has_the_nine_tutorial_titles_as_preferred_labels(sample):
    located = locate_titles(sample)
    assert located.occupation.str.lower().tolist() == [t.lower() for t in TUTORIAL_TITLES]


def test_real_export_loads_through_the_same_function(full_esco):
    summary = full_esco.summary()
    assert summary["occupations"] == 2942
    assert summary["unit_groups"] == 426
    assert summary["major_groups"] == 10
    first = full_esco.occupations.iloc[0]
    assert first.preferred_label and len(first.alt_labels) > 0 and len(first.isco_group) == 4


GROUPS = "code,preferredLabel\n2,Professionals\n25,ICT\n251,Developers\n2511,Systems analysts\n"


def _write(folder, occupations, groups=GROUPS):
    folder.mkdir(exist_ok=True)
    (folder / "isco_groups.csv").write_text(groups, encoding="utf-8")
    if isinstance(occupations, bytes):
        (folder / "occupations.csv").write_bytes(occupations)
    else:
        (folder / "occupations.csv").write_text(occupations, encoding="utf-8")
    return folder


HEADER = "conceptUri,iscoGroup,preferredLabel,altLabels,description\n"
GOOD = 'u1,2511,data scientist,"ml scientist\ndata science specialist",Builds models.\n'


def test_alt_labels_are_newline_separated_and_quoted_records_span_lines(tmp_path):
    taxonomy = load_esco(_write(tmp_path / "ok", HEADER + GOOD + "u2,2511,data analyst,,Reads data.\n"))
    assert taxonomy.labels("u1") == ("data scientist", "ml scientist", "data science specialist")
    assert taxonomy.labels("u2") == ("data analyst",)


@pytest.mark.parametrize("content, message", [
    (HEADER + GOOD + GOOD, "line 4: duplicate conceptUri u1 (first on line 2)"),
    (HEADER + GOOD + "u2,9999,cook,,Cooks.\n", "line 4: iscoGroup 9999 of u2 has no matching group"),
    (HEADER + GOOD + "u2,25,cook,,Cooks.\n", "not a 4-digit ISCO-08 unit group code"),
    (HEADER.replace("iscoGroup,", "") + "u1,x,y,z\n", "missing column(s) ['iscoGroup']"),
    ("", "file is empty"),
    (HEADER, "no data rows"),
    (HEADER + GOOD + "u2,2511,,,Nothing.\n", "line 4: empty preferredLabel for u2"),
    (HEADER.encode() + "u1,2511,caf\xe9 keeper,,Runs a caf\xe9.\n".encode("latin-1"), "line 2 (byte"),
    (HEADER + GOOD + 'u2,2511,analyst,,"Reads data and wri', "line 4: not a readable CSV record: the file "
     "ends inside a quoted field (is it cut off"),
    (HEADER + GOOD + "u2,2511,analyst\n", "line 4 has 3 field(s), the header 5"),
    (HEADER + GOOD + "u2,2511,analyst,,Reads.,extra\n", "line 4 has 6 field(s), the header 5"),
    (HEADER + f"u1,2511,analyst,,{'x' * 200_000}\n", "line 2: not a readable CSV record: a field is "
     "longer than the csv module's limit of 131,072 characters"),
])
def test_bad_input_names_file_and_row(tmp_path, content, message):
    folder = _write(tmp_path / "bad", content)
    with pytest.raises(InputError) as err:
        load_esco(folder)
    assert message in str(err.value)
    assert "occupations.csv" in str(err.value)


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_esco(tmp_path / "nowhere")
    (tmp_path / "only_groups").mkdir()
    (tmp_path / "only_groups" / "isco_groups.csv").write_text("code,preferredLabel\n2,P\n")
    with pytest.raises(InputError, match="no occupations_en.csv or occupations.csv found"):
        load_esco(tmp_path / "only_groups")


def test_a_groups_file_without_the_parent_groups_is_refused_at_load_time(tmp_path):
    folder = _write(tmp_path / "p", HEADER + GOOD, groups="code,preferredLabel\n2,P\n2511,Systems analysts\n")
    with pytest.raises(InputError, match=r"isco_groups.csv: no ISCO-08 group 25, 251, the parent group\(s\) "
                                         r"of unit group 2511 \(of occupation u1\)"):
        load_esco(folder)


def test_a_truncated_export_is_refused_not_loaded_in_part(full_esco, esco_dir, tmp_path):
    """An interrupted download (the first 1.4 MB of the real export) must not load as fewer
    occupations."""
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "occupations_en.csv").write_bytes((esco_dir / "occupations_en.csv").read_bytes()[:1_400_000])
    (cut / "ISCOGroups_en.csv").write_bytes((esco_dir / "ISCOGroups_en.csv").read_bytes())
    with pytest.raises(InputError, match=r"occupations_en.csv: line \d+: not a readable CSV record: the "
                                         r"file ends inside a quoted field"):
        load_esco(cut)
    assert len(full_esco.occupations) == 2942


def test_bad_group_code(tmp_path):
    folder = _write(tmp_path / "g", HEADER + GOOD, groups="code,preferredLabel\n25A,x\n")
    with pytest.raises(InputError, match=r"isco_groups.csv: line 2: code '25A'"):
        load_esco(folder)


def test_sample_dir_is_in_the_repository():
    assert (sample_dir() / "occupations.csv").is_file()
    with open(sample_dir() / "occupations.csv", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert {"conceptUri", "iscoGroup", "preferredLabel", "altLabels", "description"} <= set(header)
