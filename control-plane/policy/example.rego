# enclet example policy: a richer decision than default.rego, to copy from.
# Load it with data.example.json. See README.md for input, data and decision.
#
# Enclave:
#   * TPM evidence needs an AK activated against a certified EK;
#     Nitro evidence needs the AWS Nitro root (not a caller-pinned root);
#   * nonce, PCR values and event log must all have been checked;
#   * no debug enclave; any other evidence kind is refused.
# Plugins (keyed by measurement; the parent's names are only labels):
#   * unlisted in data.plugins                      -> unlisted_plugin
#   * data.plugins[m].evidence lacks this kind      -> evidence_not_allowed
#   * listed in data.exclusive_plugins but loaded
#     next to another plugin                        -> exclusive_plugin_not_alone
#   * otherwise allowed with data.plugins[m].secrets, minus
#     data.nitro_only_secrets unless the evidence is Nitro.
package enclet

all_checked if {
	input.checked.nonce == true
	input.checked.pcrs == true
	input.checked.event_log == true
}

enclave_verdict := {"allow": false, "rule": "tpm_needs_activated_ak"} if {
	input.evidence == "tpm"
	input.trust_basis.kind != "activated_ak"
} else := {"allow": false, "rule": "nitro_needs_aws_root"} if {
	input.evidence == "nitro"
	input.trust_basis.kind != "aws_nitro_root"
} else := {"allow": false, "rule": "unchecked_evidence"} if {
	not all_checked
} else := {"allow": false, "rule": "debug_enclave"} if {
	input.debug != false
} else := {"allow": true, "rule": "trusted_enclave"} if {
	input.evidence in {"tpm", "nitro"}
} else := {"allow": false, "rule": "unknown_evidence"}

nitro_only(s) if {
	input.evidence != "nitro"
	s in object.get(data, "nitro_only_secrets", [])
}

granted(m) := [s |
	some s in object.get(data.plugins[m], "secrets", [])
	not nitro_only(s)
]

verdict(m) := {"allow": false, "rule": "unlisted_plugin", "secrets": []} if {
	not data.plugins[m]
} else := {"allow": false, "rule": "evidence_not_allowed", "secrets": []} if {
	not input.evidence in object.get(data.plugins[m], "evidence", ["tpm", "nitro"])
} else := {"allow": false, "rule": "exclusive_plugin_not_alone", "secrets": []} if {
	m in object.get(data, "exclusive_plugins", [])
	count(input.plugins.measurements) > 1
} else := {"allow": true, "rule": "listed_plugin", "secrets": granted(m)}

plugin_verdicts[m] := verdict(m) if {
	some m in input.plugins.measurements
}

decision := {"enclave": enclave_verdict, "plugins": plugin_verdicts}
