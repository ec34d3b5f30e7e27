//! The budgets a code to send takes from, as a pure function. The engine takes one from each
//! in one transaction, all or none (`VerifyStore::take_send_budgets`): a send refused by any
//! limit counts against no other, so refused requests cannot use up a number's budget.

use crate::clock::Instant;
use crate::delivery_settings::FraudGuardSettings;
use crate::domain::UserId;
use crate::limits::Limit;
use crate::store::Counter;

/// What a budget counts, as the refusal names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    Ip,
    Country,
    Global,
    Destination,
}

impl Scope {
    /// How a refusal names what ran out: "too many codes were asked for …".
    pub fn words(self) -> &'static str {
        match self {
            Scope::User => "this account",
            Scope::Ip => "this address",
            Scope::Country => "this country",
            Scope::Global => "this server",
            Scope::Destination => "this destination",
        }
    }
}

/// One budget: its counter's key and how many sends it allows per window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    pub scope: Scope,
    pub key: String,
    pub limit: Limit,
}

impl Budget {
    /// A send at `now`, counted against this budget.
    pub fn counter(&self, now: Instant) -> Counter {
        Counter::new(self.key.clone(), &self.limit, now)
    }
}

/// Who asks for a send and where it goes, as the budgets see it.
#[derive(Debug, Clone)]
pub struct SendParty<'a> {
    /// The Verify service the code is for: Tessera's own, or a tenant's of the Verify API.
    pub service_id: &'a str,
    pub destination: &'a str,
    pub user: Option<UserId>,
    pub ip: Option<&'a str>,
    /// The destination is one of `user`'s enrolled methods, proven by a code when it was
    /// enrolled: its budget is the user's own, apart from sends anyone else asks for.
    pub own_method: bool,
    /// The phone number's country (none for an email address).
    pub country: Option<CountryStanding>,
}

/// A country, and whether the server knows it: a user has an enrolled number there or the
/// administrator lists it in `allowedCountries`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountryStanding {
    pub region: String,
    pub known: bool,
}

/// The budgets a send takes from, in the order a refusal reports them: the destination's last,
/// so that a refusal on any other count is reported as such.
pub fn send_budgets(guard: &FraudGuardSettings, party: &SendParty<'_>) -> Vec<Budget> {
    let mut budgets = Vec::with_capacity(5);
    let mut add = |scope, key: String, limit| budgets.push(Budget { scope, key, limit });
    if let Some(user) = party.user {
        add(Scope::User, format!("send:user:{user}"), guard.per_user);
    }
    if let Some(ip) = party.ip {
        add(Scope::Ip, format!("send:ip:{ip}"), guard.per_ip);
    }
    if let Some(country) = &party.country {
        let limit = if country.known {
            guard.per_country
        } else {
            guard.per_new_country
        };
        add(
            Scope::Country,
            format!("send:country:{}", country.region),
            limit,
        );
    }
    add(Scope::Global, "send:global".to_owned(), guard.global);
    let destination = match (party.own_method, party.user) {
        (true, Some(user)) => format!(
            "send:dest:{}:own:{user}:{}",
            party.service_id, party.destination
        ),
        _ => format!("send:dest:{}:{}", party.service_id, party.destination),
    };
    add(Scope::Destination, destination, guard.per_destination);
    budgets
}

#[cfg(test)]
mod tests {
    use super::*;

    fn party(user: Option<UserId>, own_method: bool) -> SendParty<'static> {
        SendParty {
            service_id: "tessera",
            destination: "+13035551212",
            user,
            ip: Some("192.0.2.7"),
            own_method,
            country: Some(CountryStanding {
                region: "US".into(),
                known: true,
            }),
        }
    }

    fn destination_key(party: &SendParty<'_>) -> String {
        let budgets = send_budgets(&FraudGuardSettings::default(), party);
        let last = budgets.last().unwrap();
        assert_eq!(last.scope, Scope::Destination, "the destination comes last");
        last.key.clone()
    }

    #[test]
    fn a_send_counts_against_user_address_country_server_and_destination() {
        let user = UserId::new();
        let scopes: Vec<Scope> =
            send_budgets(&FraudGuardSettings::default(), &party(Some(user), false))
                .iter()
                .map(|b| b.scope)
                .collect();
        assert_eq!(
            scopes,
            [
                Scope::User,
                Scope::Ip,
                Scope::Country,
                Scope::Global,
                Scope::Destination
            ]
        );
    }

    #[test]
    fn a_users_own_number_has_a_budget_others_cannot_spend() {
        let owner = UserId::new();
        let stranger = UserId::new();
        let own = destination_key(&party(Some(owner), true));
        assert_ne!(own, destination_key(&party(Some(stranger), false)));
        assert_ne!(own, destination_key(&party(Some(stranger), true)));
        assert_ne!(own, destination_key(&party(None, false)));
        // Sends nobody proved the number for share one budget, whoever asks.
        assert_eq!(
            destination_key(&party(Some(stranger), false)),
            destination_key(&party(None, false))
        );
    }

    #[test]
    fn each_verify_service_has_its_own_destination_budget() {
        let tenant = SendParty {
            service_id: "VA00000000000000000000000000000001",
            ..party(None, false)
        };
        assert_ne!(
            destination_key(&tenant),
            destination_key(&party(None, false))
        );
    }

    #[test]
    fn a_country_nobody_enrolled_in_gets_the_tight_budget() {
        let guard = FraudGuardSettings::default();
        let country_limit = |known| {
            let party = SendParty {
                country: Some(CountryStanding {
                    region: "JM".into(),
                    known,
                }),
                ..party(None, false)
            };
            send_budgets(&guard, &party)
                .into_iter()
                .find(|b| b.scope == Scope::Country)
                .unwrap()
                .limit
        };
        assert_eq!(country_limit(false), guard.per_new_country);
        assert_eq!(country_limit(true), guard.per_country);
        assert!(guard.per_new_country.max < guard.per_country.max);
    }

    #[test]
    fn an_email_address_has_no_country_and_no_address_no_ip_budget() {
        let email = SendParty {
            destination: "a@example.com",
            ip: None,
            country: None,
            ..party(None, false)
        };
        let scopes: Vec<Scope> = send_budgets(&FraudGuardSettings::default(), &email)
            .iter()
            .map(|b| b.scope)
            .collect();
        assert_eq!(scopes, [Scope::Global, Scope::Destination]);
    }
}
