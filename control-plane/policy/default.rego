# enclet default policy: see README.md for the input, data and decision.
#
# The enclave is allowed iff its key is trusted by activation (TPM) or the
# AWS Nitro root, the nonce, PCR values and event log were all checked, and
# it is not a debug enclave. A plugin is allowed iff data.plugins lists its
# measurement (lowercase hex); it then receives data.plugins[m].secrets and
# the capabilities data.plugins[m].capabilities (default ["log"]) in its
# capability token.
# Every attested plugin gets an entry: unlisted ones are denied explicitly.
package enclet

trusted_basis := {"activated_ak", "aws_nitro_root"}

all_checked if {
	input.checked.nonce == true
	input.checked.pcrs == true
	input.checked.event_log == true
}

enclave_verdict := {"allow": false, "rule": "untrusted_basis"} if {
	not input.trust_basis.kind in trusted_basis
} else := {"allow": false, "rule": "unchecked_evidence"} if {
	not all_checked
} else := {"allow": false, "rule": "debug_enclave"} if {
	input.debug != false
} else := {"allow": true, "rule": "trusted_enclave"}

plugin_verdicts[m] := {"allow": true, "rule": "listed_plugin", "secrets": secrets, "capabilities": capabilities} if {
	some m in input.plugins.measurements
	entry := data.plugins[m]
	secrets := object.get(entry, "secrets", [])
	capabilities := object.get(entry, "capabilities", ["log"])
}

plugin_verdicts[m] := {"allow": false, "rule": "unlisted_plugin", "secrets": []} if {
	some m in input.plugins.measurements
	not data.plugins[m]
}

decision := {"enclave": enclave_verdict, "plugins": plugin_verdicts}
