# The rules of groupgate's default set (policies/default), written as an OPA
# user writes Rego: one package, a set of reason codes per hook and outcome,
# data loaded from the set's own list files. The peers benchmark checks that
# this module decides every benchmark input as groupgate does.
#
# data.blacklist.users / .groups   Art. 11 (blacklist/users.txt, groups.txt)
# data.credit                      Art. 7  (credit-levels [config])
# data.limits                      Art. 8  (group-limits [config])
# data.words, data.watch           Art. 10 (prohibited-content: the deny lists
#                                  `words` and `severe`, and the review list `watch`)
package groupgate

import rego.v1

# --- a message ---------------------------------------------------------------

message := {"deny": message_deny, "review": message_review}

message_deny contains "blacklisted" if input.sender.id in data.blacklist.users

message_deny contains "group-blacklisted" if input.group.id in data.blacklist.groups

message_deny contains "identity-unverified" if not input.sender.identity_verified

message_deny contains "credit-too-low" if input.sender.credit_level < level(input.group.category, "publish")

message_deny contains "credit-too-low" if {
	count(input.attachments) > 0
	input.sender.credit_level < level(input.group.category, "publish_attachments")
}

message_deny contains "prohibited-content" if listed(message_texts, data.words)

message_review contains "prohibited-content" if listed(message_texts, data.watch)

message_texts := array.concat([lower(input.text)], [lower(a.name) | some a in input.attachments])

# --- a group creation ---------------------------------------------------------

creation := {"deny": creation_deny, "review": creation_review}

creation_deny contains "blacklisted" if input.founder.id in data.blacklist.users

creation_deny contains "identity-unverified" if not input.founder.identity_verified

creation_deny contains "credit-too-low" if input.founder.credit_level < level(input.category, "found_group")

creation_deny contains "member-limit-too-high" if input.member_limit > max_members(input.category)

creation_deny contains "founding-limit" if input.founder.groups_created >= data.limits.max_groups_founded

creation_deny contains "founder-unqualified" if {
	input.member_limit > data.limits.large_group
	input.founder.credit_level < data.limits.large_group_founder_credit
}

creation_review contains "large-group-review" if {
	input.member_limit > data.limits.large_group
	input.founder.credit_level >= data.limits.large_group_founder_credit
}

creation_deny contains "prohibited-content" if listed(creation_texts, data.words)

creation_review contains "prohibited-content" if listed(creation_texts, data.watch)

creation_texts := [lower(input.name), lower(input.description)]

# --- a membership -------------------------------------------------------------

membership := {"deny": membership_deny, "review": set()}

membership_deny contains "blacklisted" if input.subject.id in data.blacklist.users

membership_deny contains "blacklisted" if input.inviter.id in data.blacklist.users

membership_deny contains "group-blacklisted" if input.group.id in data.blacklist.groups

membership_deny contains "credit-too-low" if input.subject.credit_level < level(input.group.category, "join_group")

membership_deny contains "group-full" if input.group.member_count >= input.group.member_limit

membership_deny contains "join-limit" if input.subject.groups_joined >= data.limits.max_groups_joined

# --- shared -------------------------------------------------------------------

# The credit level a service needs in a category: the category's own level,
# else the policy-wide one.
level(category, service) := data.credit.categories[category][service]

level(category, service) := data.credit[service] if not data.credit.categories[category][service]

max_members(category) := data.limits.categories[category].max_members

max_members(category) := data.limits.max_members if not data.limits.categories[category].max_members

# Whether any text contains any of the words.
listed(texts, words) if {
	some text in texts
	some word in words
	contains(text, word)
}
