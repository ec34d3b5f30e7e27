//! Several nodes sharing one database (and its keys): a login started on one finishes on
//! another, a code accepted on one is refused on the other, and limits are shared.

use serde_json::json;

use crate::helpers::{PASSWORD, oathtool, spawn_app};

#[tokio::test]
async fn a_login_started_on_one_node_finishes_on_another_and_a_code_counts_once_across_nodes() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    let user = a.create_user("ann", json!({})).await;
    let (secret, _) = a.enroll_authenticator(user["id"].as_str().unwrap()).await;

    let on_a = a.start_two_factor("ann").await;
    let code = oathtool(&secret, 30);
    let done = b.finish_two_factor(&on_a, &code, json!({})).await;
    assert_eq!(
        done.status(),
        200,
        "a challenge of node A finishes on node B"
    );
    let token = done.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let validated = a
        .client
        .get(a.url("/api/jwt/validate"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        validated.status(),
        200,
        "a token of node B validates on node A"
    );

    let again = b.start_two_factor("ann").await;
    assert_eq!(
        a.finish_two_factor(&again, &code, json!({})).await.status(),
        421,
        "the code was spent on B"
    );
}

#[tokio::test]
async fn settings_and_send_limits_are_shared_by_the_nodes() {
    let a = spawn_app().await;
    let b = a.another_node().await;
    a.put_two_factor_settings(json!({"apiLoginPolicy": "required"}))
        .await;
    a.create_user("bo", json!({})).await;
    let (status, _) = b
        .login_json(json!({"loginId": "bo", "password": PASSWORD}))
        .await;
    assert_eq!(status, 242, "node B applies the policy set through node A");

    let user = a.create_user("cy", json!({})).await;
    let id = user["id"].as_str().unwrap();
    for i in 0..5 {
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            node.send_enrollment(id, "sms", "+13035551212")
                .await
                .status(),
            200
        );
    }
    assert_eq!(
        b.send_enrollment(id, "sms", "+13035551212").await.status(),
        429,
        "the sixth send, wherever it lands"
    );
}
