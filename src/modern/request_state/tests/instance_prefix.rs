//! The instance prefix of tokens (`--instance-id`): in clear for the load balancer, covered by
//! the MAC, and refused naming its instance anywhere else.

use serde_json::json;

use super::*;

#[test]
fn without_an_instance_tokens_have_no_prefix() {
    for kind in [parked(), child()] {
        let token = sealer().seal(&kind, &ask_call(), EXPIRY);
        assert!(!token.contains('.'), "{token}");
        assert!(base64url::decode(&token).is_some(), "{token}");
    }
}

#[test]
fn a_named_instance_prefixes_both_kinds_and_opens_its_own() {
    let proxy_1 = named("proxy-1");
    let token = proxy_1.seal(&parked(), &ask_call(), EXPIRY);
    assert_eq!(token.len(), "proxy-1.".len() + 98);
    let (prefix, rest) = token.split_once('.').expect("NAME.<token>");
    assert_eq!(prefix, "proxy-1");
    assert_eq!(base64url::decode(rest).map(|bytes| bytes.len()), Some(73));
    assert_eq!(proxy_1.open(&token, &ask_call(), NOW), Ok(parked()));
    let token = proxy_1.seal(&child(), &ask_call(), EXPIRY);
    assert!(token.starts_with("proxy-1."), "{token}");
    assert_eq!(proxy_1.open(&token, &ask_call(), NOW), Ok(child()));
    // The other checks still apply behind the prefix.
    assert_eq!(
        proxy_1.open(&token, &ask_call(), EXPIRY + 1),
        Err(StateError::Expired)
    );
    let other_call = Binding::of("tools/call", Some(&json!({"name": "other"})));
    assert_eq!(
        proxy_1.open(&token, &other_call, NOW),
        Err(StateError::Rebound)
    );
}

#[test]
fn a_state_of_another_instance_is_refused_naming_that_instance() {
    let token = named("proxy-1").seal(&parked(), &ask_call(), EXPIRY);
    let expected = Err(StateError::AnotherInstance(instance("proxy-1")));
    // Same key and boot: the prefix alone decides, before the MAC is even computed.
    assert_eq!(named("proxy-2").open(&token, &ask_call(), NOW), expected);
    // An instance without a name cannot have issued a named token either.
    assert_eq!(sealer().open(&token, &ask_call(), NOW), expected);
    // Whatever follows the prefix: the state belongs there, and only there can it be judged.
    assert_eq!(
        named("proxy-2").open("proxy-1.not base64!", &ask_call(), NOW),
        expected
    );
    let message = StateError::AnotherInstance(instance("proxy-1")).to_string();
    assert_eq!(
        message,
        "requestState was issued by proxy instance \"proxy-1\", which alone holds this call, and the retry reached another instance: the load balancer must send requests whose params.requestState starts with \"proxy-1.\" to instance proxy-1 (see the hyper-mcp-proxy README, \"Running several instances\"); start the call again without requestState"
    );
}

#[test]
fn the_mac_covers_the_instance_prefix() {
    for kind in [parked(), child()] {
        let token = named("proxy-1").seal(&kind, &ask_call(), EXPIRY);
        let unprefixed = token
            .strip_prefix("proxy-1.")
            .expect("a named token starts with its instance");
        // Passed off as another instance's (same key and boot, so only the MAC can tell).
        let swapped = format!("proxy-2.{unprefixed}");
        assert_eq!(
            named("proxy-2").open(&swapped, &ask_call(), NOW),
            Err(StateError::Tampered),
            "{kind:?}"
        );
        // Stripped of its prefix, at the instance that issued it or at an unnamed one.
        for opener in [named("proxy-1"), sealer()] {
            assert_eq!(
                opener.open(unprefixed, &ask_call(), NOW),
                Err(StateError::Tampered),
                "{kind:?} at {opener:?}"
            );
        }
        // Every bit of the sealed part still matters behind the prefix.
        let bytes = base64url::decode(unprefixed).expect("a sealed token decodes");
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let expected = if BOOT_BYTES.contains(&(bit / 8)) {
                StateError::OtherBoot
            } else {
                StateError::Tampered
            };
            let token = format!("proxy-1.{}", base64url::encode(&flipped));
            assert_eq!(
                named("proxy-1").open(&token, &ask_call(), NOW),
                Err(expected),
                "bit {bit} of {kind:?}"
            );
        }
    }
}

#[test]
fn an_unprefixed_state_of_an_earlier_unnamed_run_reads_as_a_restart() {
    let before_naming = StateSealer::with_key([8; 32], BOOT + 1);
    let token = before_naming.seal(&parked(), &ask_call(), EXPIRY);
    assert_eq!(
        named("proxy-1").open(&token, &ask_call(), NOW),
        Err(StateError::OtherBoot)
    );
}

#[test]
fn a_prefix_that_is_not_an_instance_name_is_malformed() {
    let sealed = sealer().seal(&parked(), &ask_call(), EXPIRY);
    let long_name = "x".repeat(64);
    for prefix in ["", "proxy_1", "proxy 1", "prôxy", long_name.as_str()] {
        let token = format!("{prefix}.{sealed}");
        for opener in [sealer(), named("proxy-1")] {
            assert_eq!(
                opener.open(&token, &ask_call(), NOW),
                Err(StateError::Malformed),
                "{token:?} at {opener:?}"
            );
        }
    }
    // A second `.` belongs to the encoded part, which base64url refuses.
    let doubled = named("proxy-1").seal(&parked(), &ask_call(), EXPIRY);
    let doubled = doubled.replacen("proxy-1.", "proxy-1.proxy-1.", 1);
    assert_eq!(
        named("proxy-1").open(&doubled, &ask_call(), NOW),
        Err(StateError::Malformed)
    );
}
