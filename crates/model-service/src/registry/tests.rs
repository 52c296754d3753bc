use super::*;
use crate::providers::mock::{MockProvider, MockSettings};
use crate::providers::ErrorKind;

fn slot(name: &str) -> ProviderSlot {
    let t = Duration::from_secs(5);
    ProviderSlot::new(
        name,
        "mock",
        Arc::new(MockProvider::new(MockSettings::default())),
        ProviderTimeouts {
            total: t,
            first_token: t,
            idle: t,
        },
        Breaker::new(name, 2, Duration::from_secs(60)),
    )
}

fn single() -> Registry {
    Registry::single(
        slot("groq"),
        "big",
        Some("small"),
        &["big".into(), "other".into()],
        Some("emb"),
    )
}

fn ids(routes: &[Route]) -> Vec<String> {
    routes.iter().map(Route::id).collect()
}

#[test]
fn without_a_file_any_id_goes_to_the_one_provider_and_falls_back() {
    let r = single();
    assert_eq!(
        ids(&r.plan(None, Capability::Chat).unwrap()),
        ["groq/big", "groq/small"]
    );
    assert_eq!(
        ids(&r.plan(Some("  "), Capability::Chat).unwrap()),
        ["groq/big", "groq/small"]
    );
    assert_eq!(
        ids(&r.plan(Some("x"), Capability::Chat).unwrap()),
        ["groq/x", "groq/small"]
    );
    assert_eq!(
        ids(&r.plan(Some("small"), Capability::Chat).unwrap()),
        ["groq/small"]
    );
    assert_eq!(
        ids(&r.plan(None, Capability::Embeddings).unwrap()),
        ["groq/emb"]
    );
    assert_eq!(
        ids(&r.plan(Some("groq/emb"), Capability::Embeddings).unwrap()),
        ["groq/emb"]
    );
    let e = r.plan(Some("big"), Capability::Embeddings).unwrap_err();
    assert_eq!(e.code(), "INVALID_REQUEST");
    assert!(e.to_string().contains("does not support embeddings"), "{e}");
    let none = Registry::single(slot("openai"), "a", None, &[], None);
    assert_eq!(
        ids(&none.plan(None, Capability::Chat).unwrap()),
        ["openai/a"]
    );
    assert_eq!(
        none.plan(None, Capability::Embeddings).unwrap_err().code(),
        "NO_EMBEDDINGS_MODEL"
    );
}

#[test]
fn without_a_file_the_list_is_as_before_plus_capabilities() {
    let list = single().models_response();
    let rows: Vec<_> = list
        .models
        .iter()
        .map(|m| (m.id.as_str(), m.role.as_str(), m.capabilities.join(",")))
        .collect();
    assert_eq!(
        rows,
        [
            ("big", "default", "chat".to_owned()),
            ("small", "fallback", "chat".to_owned()),
            ("other", "available", "chat".to_owned()),
            ("emb", "available", "embeddings".to_owned())
        ]
    );
    assert_eq!(
        (list.default.as_str(), list.fallback.as_deref()),
        ("big", Some("small"))
    );
    assert_eq!(list.provider, "groq");
    assert_eq!(list.aliases["embeddings"], ["emb"]);
}

const FILE: &str = r#"
[[providers]]
name = "a"
kind = "mock"
[[providers.models]]
id = "llama"
context_window = 8192
price_input_per_mtok = 2.0
price_output_per_mtok = 6.0
fallbacks = ["b/gpt", "fast"]
[[providers.models]]
id = "shared"
[[providers.models]]
id = "embed-small"

[[providers]]
name = "b"
kind = "mock"
[[providers.models]]
id = "gpt"
capabilities = ["chat", "vision"]
[[providers.models]]
id = "shared"
[[providers.models]]
id = "llama"

[aliases]
default = "a/llama"
fast = ["a/shared", "b/shared"]
"#;

fn from_file() -> Registry {
    let config = file::parse(FILE, "t.toml", &|_| None).unwrap();
    Registry::from_file(&config, |p| Ok(Arc::new(slot(&p.name)))).unwrap()
}

#[test]
fn routes_by_alias_provider_and_unique_bare_id() {
    let r = from_file();
    assert_eq!(r.resolve(None).unwrap().id(), "a/llama");
    assert_eq!(r.resolve(Some("b/llama")).unwrap().id(), "b/llama");
    assert_eq!(r.resolve(Some("gpt")).unwrap().id(), "b/gpt");
    assert_eq!(r.resolve(Some("b/unlisted")).unwrap().id(), "b/unlisted");
    let e = r.resolve(Some("shared")).unwrap_err();
    assert_eq!((e.status().as_u16(), e.code()), (400, "AMBIGUOUS_MODEL"));
    assert!(e.to_string().contains("a/shared, b/shared"), "{e}");
    let e = r.resolve(Some("nowhere")).unwrap_err();
    assert_eq!((e.status().as_u16(), e.code()), (404, "UNKNOWN_MODEL"));
    assert!(r.resolve(Some("c/x")).is_err());
    assert_eq!(
        r.resolve(Some("embed-small"))
            .unwrap()
            .model
            .config
            .capabilities,
        [Capability::Embeddings]
    );
    assert_eq!(
        r.resolve(Some("embeddings")).unwrap_err().code(),
        "UNKNOWN_MODEL",
        "no such alias"
    );
}

#[test]
fn fallback_chains_expand_aliases_without_duplicates() {
    let r = from_file();
    let plan = ids(&r.plan(None, Capability::Chat).unwrap());
    assert_eq!(plan.len(), 4, "{plan:?}");
    assert_eq!(&plan[..2], ["a/llama", "b/gpt"]);
    let mut rest = plan[2..].to_vec();
    rest.sort();
    assert_eq!(rest, ["a/shared", "b/shared"]);
    // Vision needs a model that has it: the chain keeps only those.
    assert_eq!(
        r.plan(Some("a/llama"), Capability::Vision)
            .unwrap_err()
            .code(),
        "INVALID_REQUEST"
    );
    assert_eq!(
        ids(&r.plan(Some("gpt"), Capability::Vision).unwrap()),
        ["b/gpt"]
    );
}

#[test]
fn alias_targets_take_turns_when_idle_and_the_least_loaded_goes_first() {
    let r = from_file();
    let firsts: Vec<String> = (0..4)
        .map(|_| r.resolve(Some("fast")).unwrap().id())
        .collect();
    assert_eq!(firsts, ["a/shared", "b/shared", "a/shared", "b/shared"]);
    let a = r.providers()[0].clone();
    let _busy = a.enter();
    for _ in 0..3 {
        assert_eq!(r.resolve(Some("fast")).unwrap().id(), "b/shared");
    }
    drop(_busy);
    // A provider cooling down goes last even when idle.
    let b = r.providers()[1].clone();
    b.breaker.record_failure(ErrorKind::Overloaded);
    b.breaker.record_failure(ErrorKind::Overloaded);
    for _ in 0..3 {
        assert_eq!(r.resolve(Some("fast")).unwrap().id(), "a/shared");
    }
}

#[test]
fn the_list_names_every_model_with_provider_capabilities_and_price() {
    let list = from_file().models_response();
    assert_eq!(list.default, "a/llama");
    assert_eq!(list.fallback.as_deref(), Some("b/gpt"));
    let llama = &list.models[0];
    assert_eq!(
        (
            llama.id.as_str(),
            llama.role.as_str(),
            llama.provider.as_str()
        ),
        ("a/llama", "default", "a")
    );
    assert_eq!(llama.context_window, Some(8192));
    assert_eq!(llama.price_output_per_mtok, Some(6.0));
    assert_eq!(list.models.len(), 6);
    assert_eq!(list.aliases["fast"], ["a/shared", "b/shared"]);
    let route = from_file().resolve(None).unwrap();
    let cost = route.cost_usd(&Usage::new(1_000, 500));
    assert!((cost - 0.005).abs() < 1e-12, "{cost}");
}
