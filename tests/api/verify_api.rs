//! The Twilio-compatible Verify API over its wire format: Basic auth, form parameters, Twilio's
//! JSON and error codes.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{TestApp, oathtool, oathtool_at, spawn_app};

const PHONE: &str = "+13035551212";

struct Twilio<'a> {
    app: &'a TestApp,
    sid: String,
    token: String,
}

impl<'a> Twilio<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let (sid, token) = app
            .core
            .verify
            .create_verify_account(
                "tests",
                tessera::audit::Actor::System,
                tessera::clock::Instant::now(),
            )
            .await
            .unwrap();
        Self { app, sid, token }
    }

    async fn call(&self, method: Method, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .app
            .client
            .request(method, self.app.url(path))
            .basic_auth(&self.sid, Some(&self.token))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn service(&self, form: &[(&str, &str)]) -> String {
        let (status, body) = self.call(Method::POST, "/v2/Services", form).await;
        assert_eq!(status, 201, "{body}");
        body["sid"].as_str().unwrap().to_owned()
    }
}

#[tokio::test]
async fn a_verification_is_started_checked_and_then_gone_as_with_twilio() {
    let app = spawn_app().await;
    let twilio = Twilio::new(&app).await;
    let service = twilio
        .service(&[
            ("FriendlyName", "Acme"),
            ("CodeLength", "8"),
            ("Unknown", "ignored"),
        ])
        .await;
    assert!(service.starts_with("VA") && service.len() == 34);

    let path = format!("/v2/Services/{service}/Verifications");
    let (status, started) = twilio
        .call(Method::POST, &path, &[("To", PHONE), ("Channel", "sms")])
        .await;
    assert_eq!(status, 201, "{started}");
    assert!(started["sid"].as_str().unwrap().starts_with("VE"));
    assert_eq!(started["status"], "pending");
    assert_eq!(started["send_code_attempts"].as_array().unwrap().len(), 1);
    let message = &app.outbox().await[0];
    assert!(
        message["body"]
            .as_str()
            .unwrap()
            .starts_with("Your Acme verification code is: ")
    );
    let code = app.code_sent_to(PHONE).await;
    assert_eq!(code.len(), 8);

    // A resend within the window sends the same code, counted as a second attempt.
    let (_, again) = twilio
        .call(Method::POST, &path, &[("To", PHONE), ("Channel", "call")])
        .await;
    assert_eq!(again["sid"], started["sid"]);
    assert_eq!(again["send_code_attempts"].as_array().unwrap().len(), 2);

    let check = format!("/v2/Services/{service}/VerificationCheck");
    let (status, wrong) = twilio
        .call(Method::POST, &check, &[("To", PHONE), ("Code", "00000000")])
        .await;
    assert_eq!(
        (status, wrong["status"].as_str(), wrong["valid"].as_bool()),
        (200, Some("pending"), Some(false))
    );
    let (status, right) = twilio
        .call(
            Method::POST,
            &check,
            &[
                ("VerificationSid", started["sid"].as_str().unwrap()),
                ("Code", &code),
            ],
        )
        .await;
    assert_eq!(
        (status, right["status"].as_str(), right["valid"].as_bool()),
        (200, Some("approved"), Some(true))
    );

    let fetch = format!("{path}/{}", started["sid"].as_str().unwrap());
    let (status, gone) = twilio.call(Method::GET, &fetch, &[]).await;
    assert_eq!((status, gone["code"].as_u64()), (404, Some(20404)));
    let (status, gone) = twilio
        .call(Method::POST, &check, &[("To", PHONE), ("Code", &code)])
        .await;
    assert_eq!((status, gone["code"].as_u64()), (404, Some(20404)));
}

#[tokio::test]
async fn limits_and_bad_parameters_answer_with_twilios_codes() {
    let app = spawn_app().await;
    let twilio = Twilio::new(&app).await;
    let service = twilio.service(&[("FriendlyName", "Acme")]).await;
    let path = format!("/v2/Services/{service}/Verifications");
    let check = format!("/v2/Services/{service}/VerificationCheck");
    for (form, code) in [
        (vec![("Channel", "sms")], 60200),
        (vec![("To", "3035551212"), ("Channel", "sms")], 60200),
        (vec![("To", PHONE), ("Channel", "pigeon")], 60200),
        (
            vec![("To", PHONE), ("Channel", "sms"), ("CustomCode", "1234")],
            60204,
        ),
    ] {
        let (status, body) = twilio.call(Method::POST, &path, &form).await;
        assert_eq!(body["code"], code, "{form:?}: {body}");
        assert!(status == 400, "{form:?}");
        assert!(
            body["more_info"]
                .as_str()
                .unwrap()
                .ends_with(&code.to_string())
        );
    }
    for _ in 0..5 {
        let (status, _) = twilio
            .call(Method::POST, &path, &[("To", PHONE), ("Channel", "sms")])
            .await;
        assert_eq!(status, 201);
    }
    let (status, sixth) = twilio
        .call(Method::POST, &path, &[("To", PHONE), ("Channel", "sms")])
        .await;
    assert_eq!((status, sixth["code"].as_u64()), (429, Some(60203)));
    for _ in 0..5 {
        twilio
            .call(Method::POST, &check, &[("To", PHONE), ("Code", "000000")])
            .await;
    }
    let (status, sixth) = twilio
        .call(Method::POST, &check, &[("To", PHONE), ("Code", "000000")])
        .await;
    assert_eq!((status, sixth["code"].as_u64()), (429, Some(60202)));
    let (status, body) = twilio
        .call(Method::POST, &check, &[("Code", "000000")])
        .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(60200)));
    let (status, body) = twilio
        .call(
            Method::POST,
            "/v2/Services",
            &[("FriendlyName", &"x".repeat(31))],
        )
        .await;
    assert_eq!((status, body["code"].as_u64()), (400, Some(60200)));
}

#[tokio::test]
async fn wrong_credentials_get_20003_and_accounts_see_only_their_own_services() {
    let app = spawn_app().await;
    let mine = Twilio::new(&app).await;
    let service = mine.service(&[("FriendlyName", "Mine")]).await;
    let response = app
        .client
        .get(app.url("/v2/Services"))
        .basic_auth(&mine.sid, Some("0123456789abcdef0123456789abcdef"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 20003);
    assert_eq!(body["message"], "Authenticate");
    let anonymous = app
        .client
        .get(app.url("/v2/Services"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let theirs = Twilio::new(&app).await;
    let (status, body) = theirs
        .call(Method::GET, &format!("/v2/Services/{service}"), &[])
        .await;
    assert_eq!((status, body["code"].as_u64()), (404, Some(20404)));
    let (_, list) = theirs.call(Method::GET, "/v2/Services", &[]).await;
    assert_eq!(list["services"], serde_json::json!([]));
    assert_eq!(list["meta"]["key"], "services");
}

#[tokio::test]
async fn services_are_read_updated_listed_and_deleted_and_custom_codes_and_cancels_work() {
    let app = spawn_app().await;
    let twilio = Twilio::new(&app).await;
    let service = twilio
        .service(&[("FriendlyName", "First"), ("CustomCodeEnabled", "true")])
        .await;
    let (status, updated) = twilio
        .call(
            Method::POST,
            &format!("/v2/Services/{service}"),
            &[("FriendlyName", "Renamed"), ("Totp.Skew", "2")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(updated["friendly_name"], "Renamed");
    assert_eq!(updated["totp"]["skew"], 2);
    assert!(updated["date_created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(
        updated["links"]["verifications"],
        format!("https://verify.twilio.com/v2/Services/{service}/Verifications")
    );

    let path = format!("/v2/Services/{service}/Verifications");
    let (status, started) = twilio
        .call(
            Method::POST,
            &path,
            &[
                ("To", "ann@example.com"),
                ("Channel", "email"),
                ("CustomCode", "424242"),
            ],
        )
        .await;
    assert_eq!(status, 201, "{started}");
    assert_eq!(app.code_sent_to("ann@example.com").await, "424242");
    let verification = started["sid"].as_str().unwrap();
    let (status, canceled) = twilio
        .call(
            Method::POST,
            &format!("{path}/{verification}"),
            &[("Status", "canceled")],
        )
        .await;
    assert_eq!(
        (status, canceled["status"].as_str()),
        (200, Some("canceled"))
    );
    let (status, _) = twilio
        .call(Method::GET, &format!("{path}/{verification}"), &[])
        .await;
    assert_eq!(status, 404);

    twilio.service(&[("FriendlyName", "Second")]).await;
    let (_, page) = twilio
        .call(Method::GET, "/v2/Services?PageSize=1", &[])
        .await;
    assert_eq!(page["services"].as_array().unwrap().len(), 1);
    assert!(page["meta"]["next_page_url"].is_string());
    let (status, _) = twilio
        .call(Method::DELETE, &format!("/v2/Services/{service}"), &[])
        .await;
    assert_eq!(status, 204);
    let (status, _) = twilio
        .call(Method::GET, &format!("/v2/Services/{service}"), &[])
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn one_tessera_logs_a_user_in_with_an_sms_code_made_by_another_tesseras_verify_api() {
    // B serves the Verify API; A uses it as its `twilio_verify` provider.
    let b = spawn_app().await;
    let account = Twilio::new(&b).await;
    let service = account.service(&[("FriendlyName", "Tessera B")]).await;
    let a = spawn_app().await;
    let saved = a
        .put_delivery_settings(serde_json::json!({
            "provider": "twilio_verify",
            "twilio": {"accountSid": account.sid, "authToken": account.token, "verifyServiceSid": service,
                       "apiBaseUrl": b.address, "verifyBaseUrl": b.address}
        }))
        .await;
    assert_eq!(saved.status(), 200, "{}", saved.text().await.unwrap());

    let user = a.create_user("ann", serde_json::json!({})).await;
    let id = user["id"].as_str().unwrap();
    assert_eq!(a.send_enrollment(id, "sms", PHONE).await.status(), 200);
    // The code crossed over: B made it and put it in B's outbox.
    let code = b.code_sent_to(PHONE).await;
    assert!(
        b.outbox().await[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("Your Tessera B verification code")
    );
    assert!(a.outbox().await.is_empty());
    let enabled = a
        .with_key(Method::POST, &format!("/api/user/two-factor/{id}"))
        .json(&serde_json::json!({"method": "sms", "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(enabled.status(), 200);

    let (status, challenge) = a
        .login_json(serde_json::json!({"loginId": "ann", "password": crate::helpers::PASSWORD}))
        .await;
    assert_eq!(status, 242);
    let two_factor_id = challenge["twoFactorId"].as_str().unwrap();
    let method = challenge["methods"][0]["id"].as_str().unwrap();
    let sent = a
        .post_json(
            &format!("/api/two-factor/send/{two_factor_id}"),
            &serde_json::json!({"methodId": method}),
        )
        .await;
    assert_eq!(sent.status(), 200);
    let login_code = b.code_sent_to(PHONE).await;
    let done = a
        .finish_two_factor(two_factor_id, &login_code, serde_json::json!({}))
        .await;
    assert_eq!(done.status(), 200, "{}", done.text().await.unwrap());
}

/// A service holds at most 10 rate limits and a rate limit at most 10 buckets, however many
/// creations arrive at once: each is counted after the ones before it.
#[tokio::test]
async fn simultaneous_creations_never_pass_the_rate_limit_and_bucket_caps() {
    let app = spawn_app().await;
    let twilio = Twilio::new(&app).await;
    let service = twilio.service(&[("FriendlyName", "Caps")]).await;
    let limits = format!("/v2/Services/{service}/RateLimits");
    let forms = (0..30)
        .map(|n| vec![("UniqueName".to_owned(), format!("limit_{n}"))])
        .collect();
    let answers = twilio.post_all_at_once(&limits, forms).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused = answers
        .iter()
        .filter(|(s, code)| *s == 400 && *code == Some(60207))
        .count();
    eprintln!(
        "race: 30 simultaneous rate limit creations → {created} created, {refused} refused (60207)"
    );
    assert_eq!((created, refused), (10, 20), "{answers:?}");

    let (_, page) = twilio.call(Method::GET, &limits, &[]).await;
    let limit = page["rate_limits"][0]["sid"].as_str().unwrap().to_owned();
    let buckets = format!("{limits}/{limit}/Buckets");
    let forms = (0..30)
        .map(|n| {
            vec![
                ("Max".to_owned(), "5".to_owned()),
                ("Interval".to_owned(), (60 + n).to_string()),
            ]
        })
        .collect();
    let answers = twilio.post_all_at_once(&buckets, forms).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused = answers
        .iter()
        .filter(|(s, code)| *s == 400 && *code == Some(60210))
        .count();
    assert_eq!((created, refused), (10, 20), "{answers:?}");
}

impl Twilio<'_> {
    /// POSTs every form to `path` at the same moment; the statuses and Twilio error codes.
    async fn post_all_at_once(
        &self,
        path: &str,
        forms: Vec<Vec<(String, String)>>,
    ) -> Vec<(u16, Option<u64>)> {
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(forms.len()));
        let tasks: Vec<_> = forms
            .into_iter()
            .map(|form| {
                let request = self
                    .app
                    .client
                    .post(self.app.url(path))
                    .basic_auth(&self.sid, Some(&self.token))
                    .form(&form);
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let answer = request.send().await.unwrap();
                    let status = answer.status().as_u16();
                    let body: Value = answer.json().await.unwrap_or(Value::Null);
                    (status, body["code"].as_u64())
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        answers
    }
}

/// A page number far past the end is refused in Twilio's shape instead of overflowing the
/// offset (found by schemathesis: it answered 500).
/// Each challenge of a TOTP factor allows 5 attempts, and a new challenge is one request away:
/// the factor itself takes 20 wrong codes in a row, across its challenges and its verification,
/// and is then locked — even the right code is refused — for 15 minutes, after which each
/// guess locks it again. A right code ends the run.
#[tokio::test]
async fn a_totp_factor_is_locked_after_twenty_wrong_codes_in_a_row_across_its_challenges() {
    let app = spawn_app().await;
    let twilio = Twilio::new(&app).await;
    let service = twilio.service(&[("FriendlyName", "Acme")]).await;
    let entity = format!("/v2/Services/{service}/Entities/ann-0001");
    let (status, factor) = twilio
        .call(
            Method::POST,
            &format!("{entity}/Factors"),
            &[("FriendlyName", "Ann phone"), ("FactorType", "totp")],
        )
        .await;
    assert_eq!(status, 201, "{factor}");
    let factor_sid = factor["sid"].as_str().unwrap().to_owned();
    let secret = factor["binding"]["secret"].as_str().unwrap().to_owned();
    let verify = format!("{entity}/Factors/{factor_sid}");
    // 10 wrong codes while verifying the factor, then the right one: the run ends.
    for _ in 0..10 {
        let (status, body) = twilio
            .call(Method::POST, &verify, &[("AuthPayload", "000000")])
            .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("unverified")),
            "{body}"
        );
    }
    let (status, body) = twilio
        .call(
            Method::POST,
            &verify,
            &[("AuthPayload", &oathtool(&secret, 0))],
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("verified")),
        "{body}"
    );

    // Four challenges, five wrong codes each: 20 in a row.
    let challenges = format!("{entity}/Challenges");
    for _ in 0..4 {
        let (status, challenge) = twilio
            .call(Method::POST, &challenges, &[("FactorSid", &factor_sid)])
            .await;
        assert_eq!(status, 201, "{challenge}");
        let answer = format!("{challenges}/{}", challenge["sid"].as_str().unwrap());
        for _ in 0..5 {
            let (status, body) = twilio
                .call(Method::POST, &answer, &[("AuthPayload", "000000")])
                .await;
            assert_eq!(
                (status, body["status"].as_str()),
                (200, Some("pending")),
                "{body}"
            );
        }
    }
    // A fifth challenge, with the right code: refused, the factor is locked.
    let right = oathtool(&secret, 30);
    let (status, body) = twilio
        .call(
            Method::POST,
            &challenges,
            &[("FactorSid", &factor_sid), ("AuthPayload", &right)],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (429, Some(60308)),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("in a row"),
        "{body}"
    );

    // 15 minutes later one guess is let through: a wrong one locks the factor again, a right
    // one ends the run. The engine is asked directly, with the clock moved on.
    let record = app
        .core
        .store
        .verify()
        .service(&twilio.sid, &service)
        .await
        .unwrap()
        .unwrap();
    let later = |minutes: i64| tessera::clock::Instant::now().plus_seconds(minutes * 60);
    let challenge_at = |minutes: i64, payload: String| {
        let (core, record, factor_sid) = (app.core.clone(), record.clone(), factor_sid.clone());
        async move {
            core.verify
                .create_factor_challenge(
                    &record,
                    "ann-0001",
                    &factor_sid,
                    Some(&payload),
                    later(minutes),
                )
                .await
                .map(|challenge| challenge.status)
                .map_err(|error| error.to_string())
        }
    };
    let code_at = |minutes: i64| oathtool_at(&secret, later(minutes).seconds());
    assert!(challenge_at(10, code_at(10)).await.is_err(), "still locked");
    assert_eq!(
        challenge_at(16, "000000".into()).await,
        Ok("pending".into())
    );
    assert!(challenge_at(17, code_at(17)).await.is_err(), "locked again");
    assert_eq!(challenge_at(33, code_at(33)).await, Ok("approved".into()));
    // The run is over: wrong codes count from zero again.
    assert_eq!(
        challenge_at(34, "000000".into()).await,
        Ok("pending".into())
    );
}

#[tokio::test]
async fn a_huge_page_number_is_refused_with_twilios_error() {
    let app = spawn_app().await;
    let twilio = Twilio::new(&app).await;
    let (status, body) = twilio
        .call(
            Method::GET,
            "/v2/Services?Page=9223372036854775806&PageSize=198221",
            &[],
        )
        .await;
    assert_eq!(
        (status, body["code"].as_u64()),
        (400, Some(60200)),
        "{body}"
    );
    let (status, body) = twilio
        .call(Method::GET, "/v2/Services?Page=1000000&PageSize=1000", &[])
        .await;
    assert_eq!(
        status, 200,
        "the last page allowed is an empty page: {body}"
    );
    assert_eq!(body["services"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn a_services_codes_to_a_country_nobody_here_enrolled_in_take_the_ordinary_budget() {
    let app = spawn_app().await;
    let saved = app
        .put_delivery_settings(
            serde_json::json!({"fraudGuard": {"perNewCountry": {"max": 1, "windowSeconds": 3600}}}),
        )
        .await;
    assert_eq!(saved.status(), 200);
    let twilio = Twilio::new(&app).await;
    let service = twilio.service(&[("FriendlyName", "Acme")]).await;
    let path = format!("/v2/Services/{service}/Verifications");
    // Jamaica: no user of this server has a number there, but the service's users do.
    for n in 1..=3 {
        let to = format!("+1876555010{n}");
        let (status, body) = twilio
            .call(Method::POST, &path, &[("To", &to), ("Channel", "sms")])
            .await;
        assert_eq!(status, 201, "{to}: {body}");
    }
}
