//! `kiln argocd generate`: the generate command of kiln's Argo CD Config Management Plugin
//! (deploy/argocd/plugin.yaml). argocd-cmp-server runs it with no shell (kiln's image has
//! none), in the Application's path, with the Application's settings as environment
//! variables; this module turns those variables into a `kiln render -o -` of one environment.
//!
//! The contract, as argocd-cmp-server keeps it: stdout is parsed as the manifests, so only
//! manifests go there; findings go to stderr, which Argo CD shows in the Application's
//! condition when the exit status is not 0. The environment comes from the plugin parameter
//! `env` (`PARAM_ENV`) or the plugin env entry `KILN_ENV` (which Argo CD passes as
//! `ARGOCD_ENV_KILN_ENV`); a project with one environment needs neither.

use std::process::ExitCode;

use super::{ChartArgs, InputArgs, RenderArgs, findings::Format};

/// The variable argocd-cmp-server sets from the Application's `plugin.parameters` entry `env`.
pub const PARAMETER_VARIABLE: &str = "PARAM_ENV";
/// The variable argocd-cmp-server sets from the Application's `plugin.env` entry `KILN_ENV`.
pub const ENV_VARIABLE: &str = "ARGOCD_ENV_KILN_ENV";

/// Runs the plugin's generate step with the variables `lookup` gives.
pub fn generate(lookup: impl Fn(&str) -> Option<String>) -> Result<ExitCode, String> {
    // Argo CD leaves out entries whose value is empty; treat an empty one the same way.
    let set = |name: &str| lookup(name).filter(|value| !value.is_empty());
    let env = match (set(PARAMETER_VARIABLE), set(ENV_VARIABLE)) {
        (Some(parameter), Some(env)) if parameter != env => {
            return Err(format!(
                "the Application names two environments: parameter env is {parameter:?} \
                 ({PARAMETER_VARIABLE}) and plugin env KILN_ENV is {env:?} ({ENV_VARIABLE}); \
                 keep one"
            ));
        }
        (Some(name), _) | (None, Some(name)) => Some(name),
        (None, None) => None,
    };
    let args = RenderArgs {
        input: InputArgs {
            files: Vec::new(),
            env,
            all_envs: false,
            project: None,
            patches: Vec::new(),
            charts: ChartArgs {
                charts: Vec::new(),
                values: Vec::new(),
            },
            no_passthrough: false,
        },
        output: Some("-".into()),
        check: false,
        format: Format::Text,
    };
    // The command line's flags are not the Application's to give: name its fields instead.
    super::exit(super::render_jobs(&args, HOW_TO_CHOOSE))
}

/// How an Application names one of several environments.
const HOW_TO_CHOOSE: &str =
    "name one with the Application's plugin parameter env or plugin env entry KILN_ENV";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_different_environments_are_refused_before_anything_is_read() {
        let error = generate(|name| match name {
            PARAMETER_VARIABLE => Some("prod".into()),
            ENV_VARIABLE => Some("staging".into()),
            _ => None,
        })
        .unwrap_err();
        assert!(error.contains("parameter env is \"prod\""), "{error}");
        assert!(error.contains("KILN_ENV is \"staging\""), "{error}");
    }
}
