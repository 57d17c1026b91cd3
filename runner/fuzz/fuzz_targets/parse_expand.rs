//! Arbitrary bytes through the matrix file's parser and expansion: neither may panic,
//! and whatever parses must expand within the documented limits.

#![no_main]

use libfuzzer_sys::fuzz_target;
use ponyswarm::matrix::{expand, Spec, MAX_JOBS};
use std::collections::HashSet;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    // The file is read as UTF-8 (`load` refuses anything else), so only valid text
    // reaches the parser.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = Spec::parse(Path::new("fuzz/ponyswarm.yaml"), text) else {
        return;
    };
    // `parse` already expanded the matrix once to check it, so this cannot fail.
    let jobs = expand(&spec).expect("a spec that parses expands");
    assert!(!jobs.is_empty() && jobs.len() <= MAX_JOBS);
    let names: HashSet<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names.len(), jobs.len(), "job names are unique");
    for (index, job) in jobs.iter().enumerate() {
        assert_eq!(job.index, index);
        // `plan --json` prints jobs; matrix values must come out as JSON scalars.
        let json = serde_json::to_value(job).expect("a job serializes");
        for value in json["matrix"]
            .as_object()
            .expect("matrix is an object")
            .values()
        {
            assert!(!value.is_array() && !value.is_object());
        }
    }
});
