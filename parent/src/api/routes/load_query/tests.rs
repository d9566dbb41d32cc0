use super::*;

fn pairs(query: &[(&str, &str)]) -> Vec<(String, String)> {
    query
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn rejected(query: &[(&str, &str)]) -> (u16, String, String) {
    let e = parse(pairs(query)).unwrap_err();
    (e.status().as_u16(), e.code, e.message)
}

#[test]
fn name_alone_leaves_limits_to_the_enclave() {
    let q = parse(pairs(&[("name", "echo")])).unwrap();
    assert_eq!(
        q,
        LoadQuery {
            name: "echo".to_owned(),
            limits: None
        }
    );
}

#[test]
fn one_limit_changes_only_that_limit() {
    let q = parse(pairs(&[("max_output_bytes", "1000"), ("name", "h")])).unwrap();
    // Only that limit is sent: the enclave fills the rest from its defaults.
    assert_eq!(
        q.limits,
        Some(LimitsRequest {
            max_output_bytes: Some(1000),
            ..LimitsRequest::default()
        })
    );
    // Zero parses: whether it is meaningful is the enclave's call.
    let q = parse(pairs(&[("name", "h"), ("max_input_bytes", "0")])).unwrap();
    assert_eq!(
        q.limits,
        Some(LimitsRequest {
            max_input_bytes: Some(0),
            ..LimitsRequest::default()
        })
    );
}

#[test]
fn every_limit_can_be_set() {
    let query: Vec<(String, String)> = std::iter::once(("name".to_owned(), "h".to_owned()))
        .chain(
            LIMIT_PARAMS
                .iter()
                .zip(1u64..)
                .map(|(p, v)| ((*p).to_owned(), v.to_string())),
        )
        .collect();
    let limits = parse(query).unwrap().limits.unwrap();
    assert_eq!(
        limits,
        LimitsRequest {
            fuel: Some(1),
            deadline_ms: Some(2),
            max_memory_bytes: Some(3),
            max_table_elements: Some(4),
            max_input_bytes: Some(5),
            max_output_bytes: Some(6),
        }
    );
    let max = parse(pairs(&[("name", "h"), ("fuel", "18446744073709551615")])).unwrap();
    assert_eq!(max.limits.unwrap().fuel, Some(u64::MAX));
}

#[test]
fn values_that_are_not_decimal_u64_are_invalid_limits() {
    for bad in [
        "",
        "abc",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1e6",
        "0x10",
        "1.5",
        "18446744073709551616",
    ] {
        let (status, code, message) = rejected(&[("name", "h"), ("fuel", bad)]);
        assert_eq!((status, code.as_str()), (400, "invalid_limits"), "{bad:?}");
        assert!(message.starts_with("fuel "), "{bad:?}: {message}");
    }
    // A close variant that is a decimal u64 is accepted.
    assert!(parse(pairs(&[("name", "h"), ("fuel", "1000000")])).is_ok());
}

#[test]
fn unknown_or_repeated_parameters_are_invalid_requests() {
    let (status, code, message) = rejected(&[("name", "h"), ("fule", "1")]);
    assert_eq!((status, code.as_str()), (400, "invalid_request"));
    assert!(message.contains("\"fule\"") && message.contains("max_output_bytes"));
    for repeated in [
        [("name", "h"), ("name", "g"), ("fuel", "1")],
        [("name", "h"), ("fuel", "1"), ("fuel", "1")],
    ] {
        let (status, code, message) = rejected(&repeated);
        assert_eq!((status, code.as_str()), (400, "invalid_request"));
        assert!(message.contains("more than once"), "{message}");
    }
}

#[test]
fn a_missing_name_is_invalid_name() {
    let (status, code, _) = rejected(&[("fuel", "1")]);
    assert_eq!((status, code.as_str()), (400, "invalid_name"));
    let (status, code, _) = rejected(&[]);
    assert_eq!((status, code.as_str()), (400, "invalid_name"));
}
