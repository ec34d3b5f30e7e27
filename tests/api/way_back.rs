//! The portal's way back to a protected site (`rd`), kept in a cookie through the login: only
//! the way back the latest visit asked for leads anywhere.

use serde_json::json;

use crate::forward_auth::{APP, behind_a_proxy, escaped, rules_are};
use crate::web::Browser;

#[tokio::test]
async fn a_refused_way_back_or_a_logout_forgets_the_one_kept_before() {
    let app = behind_a_proxy().await;
    rules_are(
        &app,
        json!({"rules": [{"domain": ["app.example.com"], "policy": "one_factor"}]}),
    )
    .await;
    let back = format!("{APP}/wiki");
    for then in [
        format!("/login?rd={}", escaped("https://evil.example/")),
        "/login?out=1".to_owned(),
    ] {
        let mut browser = Browser::new();
        browser
            .get(&app, &format!("/login?rd={}", escaped(&back)))
            .await;
        assert!(browser.cookie("tessera_return").is_some(), "{then}");
        let page = browser.get(&app, &then).await;
        assert_eq!(page.status(), 200, "{then}");
        assert!(
            browser.cookie("tessera_return").is_none(),
            "{then} still leads back to {back}"
        );
    }
    // A plain visit (an expired login coming back, say) keeps it.
    let mut browser = Browser::new();
    browser
        .get(&app, &format!("/login?rd={}", escaped(&back)))
        .await;
    browser.get(&app, "/login?expired=1").await;
    assert!(browser.cookie("tessera_return").is_some());
}
