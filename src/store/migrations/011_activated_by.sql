-- Who made each activation (issue 20): `migrate` activates the default rule set of its RULES_*
-- only while no operator has activated a version of their own.
ALTER TABLE rule_set_activations ADD COLUMN activated_by text;
