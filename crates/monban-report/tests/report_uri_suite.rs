//! The report-destination scenarios of the DMARC suite (`dmarc-vectors/scenarios.json`,
//! group `report-uri`): which `rua` URIs a reporter may send to (RFC 9990 "Verifying
//! External Destinations": a destination outside the policy domain's organization must
//! publish `<policy-domain>._report._dmarc.<destination-host>`). Each case is a named
//! test, run through the check `report send` makes before every delivery.

use std::path::Path;

use libtest_mimic::{Arguments, Failed, Trial};
use monban::dmarc::PublicSuffixList;
use monban_dns::{Record, Txt, ZoneResolver};
use monban_report::send::{Authorization, authorize, mailto_address};
use serde_json::Value;

fn scenario(case: &Value) -> Result<(), Failed> {
    let mut zone = ZoneResolver::new();
    for (name, values) in case["dns"]["txt"].as_object().into_iter().flatten() {
        for v in values.as_array().into_iter().flatten() {
            let text = v.as_str().ok_or("a TXT value that is not a string")?;
            zone.insert(name, Record::Txt(Txt::new([text.as_bytes().to_vec()])), 300);
        }
    }
    let policy = case["policy_domain"].as_str().ok_or("no policy_domain")?;
    let psl = PublicSuffixList::bundled();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let mut accepted = Vec::new();
    for uri in case["rua"].as_array().ok_or("no rua")? {
        let uri = uri.as_str().ok_or("a rua that is not a string")?;
        let address = mailto_address(uri).ok_or_else(|| format!("{uri}: not a mailto: URI"))?;
        match runtime.block_on(authorize(&zone, &psl, policy, &address, "rua")) {
            Authorization::SameOrganization | Authorization::Authorized(_) => {
                accepted.push(uri.to_owned());
            }
            Authorization::Refused(_) => {}
            Authorization::TryLater(why) => return Err(format!("{uri}: {why}").into()),
        }
    }
    let expected: Vec<String> = case["expect"]["accepted_rua"]
        .as_array()
        .ok_or("no expect.accepted_rua")?
        .iter()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect();
    if accepted != expected {
        return Err(format!("accepted {accepted:?}, expected {expected:?}").into());
    }
    Ok(())
}

fn main() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/suites/dmarc-vectors/scenarios.json");
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let trials: Vec<Trial> = doc["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["group"] == "report-uri")
        .map(|c| {
            let name = c["name"].as_str().unwrap_or("unnamed").to_owned();
            let case = c.clone();
            Trial::test(format!("dmarc_scenario::{name}"), move || scenario(&case))
        })
        .collect();
    assert!(
        !trials.is_empty(),
        "no report-uri scenario in {}",
        path.display()
    );
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}
