use serde_json::{Value, json};

use super::*;

const KEY: [u8; 32] = [7; 32];
const BOOT: u64 = 0x0123_4567_89ab_cdef;
const NOW: u64 = 1_785_000_000_000;
const EXPIRY: u64 = NOW + 600_000;
/// Where the boot id sits in a decoded token: right after the tag.
const BOOT_BYTES: std::ops::Range<usize> = TAG_LEN..TAG_LEN + 8;

fn sealer() -> StateSealer {
    StateSealer::with_key(KEY, BOOT)
}

fn ask_call() -> Binding {
    Binding::of(
        "tools/call",
        Some(&json!({"name": "ask", "arguments": {"question": "name?", "retries": 2}})),
    )
}

fn parked() -> StateKind {
    StateKind::Parked { parked: 42 }
}

fn child() -> StateKind {
    StateKind::Child {
        child: "pool-3f2a".to_owned(),
        generation: 5,
        state: "eyJ0b29sIjoiYXNrIn0.sig=é".to_owned(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).expect("test JSON parses")
}

#[test]
fn a_parked_call_round_trips_in_98_characters() {
    let token = sealer().seal(&parked(), &ask_call(), EXPIRY);
    assert_eq!(token.len(), 98);
    assert_eq!(sealer().open(&token, &ask_call(), NOW), Ok(parked()));
}

#[test]
fn a_child_state_round_trips_byte_for_byte() {
    let token = sealer().seal(&child(), &ask_call(), EXPIRY);
    assert_eq!(sealer().open(&token, &ask_call(), NOW), Ok(child()));
    let empty = StateKind::Child {
        child: String::new(),
        generation: 0,
        state: String::new(),
    };
    let token = sealer().seal(&empty, &ask_call(), EXPIRY);
    assert_eq!(sealer().open(&token, &ask_call(), NOW), Ok(empty));
}

#[test]
fn a_flipped_bit_is_tampered_except_in_the_boot_id_which_reads_as_a_restart() {
    for kind in [parked(), child()] {
        let token = sealer().seal(&kind, &ask_call(), EXPIRY);
        let bytes = base64url::decode(&token).expect("a sealed token decodes");
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let expected = if BOOT_BYTES.contains(&(bit / 8)) {
                StateError::OtherBoot
            } else {
                StateError::Tampered
            };
            assert_eq!(
                sealer().open(&base64url::encode(&flipped), &ask_call(), NOW),
                Err(expected),
                "bit {bit} of {kind:?}"
            );
        }
    }
}

#[test]
fn a_token_sealed_under_another_key_is_tampered() {
    let other = StateSealer::with_key([8; 32], BOOT);
    let token = other.seal(&parked(), &ask_call(), EXPIRY);
    assert_eq!(
        sealer().open(&token, &ask_call(), NOW),
        Err(StateError::Tampered)
    );
}

#[test]
fn a_token_of_another_boot_is_refused_as_a_restart_whatever_its_key() {
    for key in [KEY, [8; 32]] {
        let previous_run = StateSealer::with_key(key, BOOT + 1);
        let token = previous_run.seal(&parked(), &ask_call(), EXPIRY);
        assert_eq!(
            sealer().open(&token, &ask_call(), NOW),
            Err(StateError::OtherBoot)
        );
    }
}

#[test]
fn fresh_sealers_do_not_open_each_other_s_tokens() {
    let first = StateSealer::new().expect("the OS has randomness");
    let second = StateSealer::new().expect("the OS has randomness");
    let token = first.seal(&parked(), &ask_call(), EXPIRY);
    assert_eq!(first.open(&token, &ask_call(), NOW), Ok(parked()));
    assert_eq!(
        second.open(&token, &ask_call(), NOW),
        Err(StateError::OtherBoot)
    );
}

#[test]
fn a_token_is_valid_through_its_expiry_millisecond_and_expired_one_after() {
    let token = sealer().seal(&parked(), &ask_call(), EXPIRY);
    assert_eq!(sealer().open(&token, &ask_call(), EXPIRY), Ok(parked()));
    assert_eq!(
        sealer().open(&token, &ask_call(), EXPIRY + 1),
        Err(StateError::Expired)
    );
}

#[test]
fn another_method_name_or_arguments_is_rebound() {
    let token = sealer().seal(&parked(), &ask_call(), EXPIRY);
    let arguments = json!({"question": "name?", "retries": 2});
    let others = [
        Binding::of(
            "tools/call",
            Some(&json!({"name": "other", "arguments": arguments})),
        ),
        Binding::of(
            "prompts/get",
            Some(&json!({"name": "ask", "arguments": arguments})),
        ),
        Binding::of(
            "tools/call",
            Some(&json!({"name": "ask", "arguments": {"question": "age?", "retries": 2}})),
        ),
        Binding::of("tools/call", Some(&json!({"name": "ask"}))),
        Binding::of("tools/call", Some(&json!({"arguments": arguments}))),
    ];
    for other in others {
        assert_eq!(
            sealer().open(&token, &other, NOW),
            Err(StateError::Rebound),
            "{other:?}"
        );
    }
}

#[test]
fn the_same_arguments_in_another_key_order_and_spelling_match() {
    let first = parse(
        r#"{"name":"ask","arguments":{"b":1,"a":{"y":[1.5,{"d":null,"c":true}],"x":"A/é"}}}"#,
    );
    let second = parse(
        r#"{ "arguments" : { "a" : { "x" : "\u0041\/\u00e9", "y" : [ 1.5 , { "c" : true , "d" : null } ] } , "b" : 1 } , "name" : "ask", "inputResponses": {"k": {}}, "requestState": "x" }"#,
    );
    let token = sealer().seal(&parked(), &Binding::of("tools/call", Some(&first)), EXPIRY);
    let retry = Binding::of("tools/call", Some(&second));
    assert_eq!(retry, Binding::of("tools/call", Some(&first)));
    assert_eq!(sealer().open(&token, &retry, NOW), Ok(parked()));
}

#[test]
fn the_arguments_digest_is_sha_256_of_canonical_json() {
    let binding = Binding::of(
        "prompts/get",
        Some(&parse(
            r#"{"name":"greet","arguments":{"z":"1","a":[true,null,-2.5]}}"#,
        )),
    );
    assert_eq!(binding.method, "prompts/get");
    assert_eq!(binding.name.as_deref(), Some("greet"));
    assert_eq!(
        hex(&binding.arguments_digest),
        sha256_hex(r#"{"a":[true,null,-2.5],"z":"1"}"#)
    );
    let bare = Binding::of("tools/call", None);
    assert_eq!(bare.name, None);
    assert_eq!(hex(&bare.arguments_digest), sha256_hex("null"));
}

#[test]
fn resources_are_bound_by_uri() {
    let binding = Binding::of(
        "resources/read",
        Some(&json!({"uri": "file:///notes.txt", "name": "ignored"})),
    );
    assert_eq!(binding.name.as_deref(), Some("file:///notes.txt"));
    assert_eq!(hex(&binding.arguments_digest), sha256_hex("null"));
    let token = sealer().seal(&parked(), &binding, EXPIRY);
    let other = Binding::of("resources/read", Some(&json!({"uri": "file:///other.txt"})));
    assert_eq!(sealer().open(&token, &other, NOW), Err(StateError::Rebound));
}

#[test]
fn garbage_empty_short_and_overlong_input_is_malformed() {
    let well_formed_but_long = "A".repeat(MAX_TOKEN_LEN + 4);
    let inputs = [
        "",
        "not a token!",
        "Zm9v+",
        "Zh",
        // A whole tag and header but no kind byte.
        &base64url::encode(&[0; TAG_LEN + HEADER_LEN]),
        // Valid base64url that would otherwise decode to 12 KiB: refused by its length.
        &well_formed_but_long,
    ];
    for input in inputs {
        assert_eq!(
            sealer().open(input, &ask_call(), NOW),
            Err(StateError::Malformed),
            "{} characters",
            input.len()
        );
    }
}

#[test]
fn a_child_state_fits_up_to_the_token_limit() {
    // 16 KiB of base64url is 12 KiB of bytes: 81 of wrapping, 9 of child id, the rest state.
    let fitting = |state_len: usize| StateKind::Child {
        child: "pool-3f2a".to_owned(),
        generation: 5,
        state: "s".repeat(state_len),
    };
    let token = sealer().seal(&fitting(12_198), &ask_call(), EXPIRY);
    assert_eq!(token.len(), MAX_TOKEN_LEN);
    assert_eq!(sealer().open(&token, &ask_call(), NOW), Ok(fitting(12_198)));
    let token = sealer().seal(&fitting(12_199), &ask_call(), EXPIRY);
    assert_eq!(token.len(), MAX_TOKEN_LEN + 2);
    assert_eq!(
        sealer().open(&token, &ask_call(), NOW),
        Err(StateError::Malformed)
    );
}

#[test]
fn a_correctly_sealed_payload_of_unknown_shape_is_malformed() {
    let sealer = sealer();
    let mut header = BOOT.to_be_bytes().to_vec();
    header.extend_from_slice(&EXPIRY.to_be_bytes());
    header.extend_from_slice(&ask_call().digest());
    let payloads = [
        [header.clone(), vec![9]].concat(),
        [header.clone(), vec![KIND_PARKED, 0, 0, 0]].concat(),
        [header.clone(), vec![KIND_PARKED], vec![0; 9]].concat(),
        [
            header.clone(),
            vec![KIND_CHILD],
            vec![0; 8],
            vec![0, 0, 0, 0, 0, 0, 0, 9],
        ]
        .concat(),
        [header.clone(), vec![KIND_CHILD], vec![0; 16], vec![0xff]].concat(),
    ];
    for payload in payloads {
        let tag = sealer
            .mac
            .clone()
            .chain_update(&payload)
            .finalize()
            .into_bytes();
        let token = base64url::encode(&[&tag[..TAG_LEN], &payload].concat());
        assert_eq!(
            sealer.open(&token, &ask_call(), NOW),
            Err(StateError::Malformed),
            "{payload:?}"
        );
    }
}

#[test]
fn the_mac_is_hmac_sha256_of_the_key_padded_with_zeros() {
    // RFC 4231 test case 2: key "Jefe", which HMAC pads with zeros to its block.
    let mut key = [0u8; 32];
    key[..4].copy_from_slice(b"Jefe");
    let sealer = StateSealer::with_key(key, BOOT);
    let tag = sealer
        .mac
        .clone()
        .chain_update(b"what do ya want for nothing?")
        .finalize()
        .into_bytes();
    assert_eq!(
        hex(&tag),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn each_refusal_has_its_reason_and_tells_the_client_to_start_again() {
    let reasons = [
        (StateError::Malformed, "malformed"),
        (StateError::Tampered, "tampered"),
        (StateError::OtherBoot, "proxy restarted"),
        (StateError::Expired, "expired"),
        (StateError::Rebound, "bound to another request"),
    ];
    for (error, reason) in reasons {
        assert_eq!(error.reason(), reason);
        assert!(
            error
                .to_string()
                .ends_with("start the call again without requestState"),
            "{error}"
        );
    }
}

#[test]
fn debug_output_shows_the_boot_but_never_the_key() {
    assert_eq!(
        format!("{:?}", sealer()),
        "StateSealer { boot: 81985529216486895, .. }"
    );
}

#[test]
fn the_wall_clock_is_read_in_milliseconds_since_1970() {
    let now = unix_ms_now();
    // 2025-01-01T00:00:00Z and 2100-01-01T00:00:00Z.
    assert!(
        (1_735_689_600_000..4_102_444_800_000).contains(&now),
        "{now}"
    );
}
