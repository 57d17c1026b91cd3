//! Who added the run label: GitHub's answer to
//! `GET /repos/{owner}/{repo}/collaborators/{username}/permission`, asked with the
//! credentials the project's commit statuses are posted with (`[project.github]`: a
//! token, or the App's installation token).
//!
//! Only asks: what the answer means is [`super::gate::after_label`]'s. Any failure (no
//! credentials, a name that cannot go into the path, no answer in time, an answer that
//! is not a 200 with a `role_name`) is an `Err` saying what happened, on which the gate
//! waits: a label nobody could vouch for never runs anything.

use super::gate::Collaborator;
use super::{Coordinator, Project};
use crate::report::github::poster::{is_name, message_of};
use std::time::Duration;

/// The longest the webhook waits for GitHub's answer before the pull request waits.
const ASK_TIMEOUT: Duration = Duration::from_secs(10);

/// What `repository` (`owner/repo`) lets `login` do, by `project`'s credentials.
pub async fn collaborator(
    c: &Coordinator,
    project: &Project,
    repository: &str,
    login: &str,
) -> Result<Collaborator, String> {
    let access = project
        .github
        .as_ref()
        .ok_or_else(|| format!("project {} has no [project.github]", project.name))?;
    let (owner, repo) = repository
        .split_once('/')
        .filter(|(o, r)| is_name(o) && is_name(r))
        .ok_or_else(|| format!("repository {repository:?} is not OWNER/REPO"))?;
    if !is_name(login) {
        return Err(format!("{login:?} is not a user name"));
    }
    let api = c.config.github_api()?;
    let crab = crate::report::github::auth::client(api.as_str(), access.credentials()?)
        .map_err(|e| e.to_string())?;
    let route = format!("/repos/{owner}/{repo}/collaborators/{login}/permission");
    let ask = async {
        let response = crab._get(route.as_str()).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = crab
            .body_to_string(response)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((status, body))
    };
    let (status, body) = tokio::time::timeout(ASK_TIMEOUT, ask)
        .await
        .map_err(|_| format!("GitHub did not answer in {}s", ASK_TIMEOUT.as_secs()))??;
    if !status.is_success() {
        return Err(format!(
            "GitHub answered {}: {}",
            status.as_u16(),
            message_of(&body)
        ));
    }
    parse(&body)
}

/// The role in an answer of the permission endpoint.
fn parse(body: &str) -> Result<Collaborator, String> {
    let v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| format!("GitHub's answer is not JSON: {e}"))?;
    let field = |name: &str| v[name].as_str().map(str::to_string);
    let role_name = field("role_name").ok_or("GitHub's answer has no role_name")?;
    Ok(Collaborator {
        role_name,
        permission: field("permission").unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_for_their_role() {
        // (an answer, (role_name, permission) or the start of the error)
        type Read<'a> = Result<(&'a str, &'a str), &'a str>;
        let cases: [(&str, Read); 5] = [
            (
                r#"{"permission":"write","role_name":"maintain","user":{"login":"m"}}"#,
                Ok(("maintain", "write")),
            ),
            (r#"{"role_name":"triage"}"#, Ok(("triage", ""))),
            (
                r#"{"permission":"admin"}"#,
                Err("GitHub's answer has no role_name"),
            ),
            (
                r#"{"role_name":7}"#,
                Err("GitHub's answer has no role_name"),
            ),
            ("<html>", Err("GitHub's answer is not JSON")),
        ];
        for (body, want) in cases {
            let got = parse(body);
            match want {
                Ok((role, permission)) => assert_eq!(
                    got,
                    Ok(Collaborator {
                        role_name: role.into(),
                        permission: permission.into()
                    }),
                    "{body}"
                ),
                Err(why) => assert!(
                    got.as_ref().is_err_and(|e| e.starts_with(why)),
                    "{body}: {got:?}"
                ),
            }
        }
    }
}
