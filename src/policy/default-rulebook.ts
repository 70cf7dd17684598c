/**
 * The shipped rulebook: version 1 of every new Parley, inserted at start-up when no version exists.
 * It encodes the seed framework of issue 4 (docs/rulebook.md explains each rule in plain words).
 * Compliance replaces it through `PUT /api/rulebook`; this text itself never changes a running system.
 */
export const DEFAULT_RULEBOOK_YAML = `# Parley rulebook — shipped default (version 1).
# Global rules apply everywhere; markets.<CODE> overrides are deep-merged over them
# (mappings merge key by key, a list or a value replaces the global one whole).
description: Seed framework for governed rep-to-HCP WhatsApp messaging.

global:
  # Which consent a message needs: template type x classification -> consent purpose.
  purposes:
    confirmation:   { non_promotional: service,         promotional: promotional }
    reminder:       { non_promotional: service,         promotional: promotional }
    service:        { non_promotional: service,         promotional: promotional }
    opt_in_request: { non_promotional: service,         promotional: promotional }
    follow_up:      { non_promotional: non_promotional, promotional: promotional }
    recap:          { non_promotional: non_promotional, promotional: promotional }
    resource_link:  { non_promotional: non_promotional, promotional: promotional }
    event_invite:   { non_promotional: events,          promotional: promotional }
  # Free text a rep writes inside the customer-service window answers the HCP: a service message.
  free_text_purpose: service

  # Channels allowed per purpose, in order of preference. The others are named as alternatives
  # when WhatsApp is refused. Medical questions go to Medical Information, never the rep's WhatsApp.
  channel_mix:
    service:             [whatsapp, email, phone]
    non_promotional:     [whatsapp, email, f2f, virtual]
    promotional:         [f2f, virtual, email, whatsapp]
    events:              [email, whatsapp, f2f]
    medical_information: [medical_information_team]

  message_types:
    whatsapp: [reminder, confirmation, follow_up, recap, resource_link, event_invite, opt_in_request, service]

  format:
    links_not_files: true          # approved assets are shared as tracked links, never as files
    max_assets: 2
    promotional_requires_pi_link: true

  frequency:
    per_hcp:                       # across all reps and brands
      rolling_hours: 168           # a rolling 7 x 24 h
      max_in_rolling: 2
      max_per_local_day: 1         # calendar day in the HCP's time zone
    per_rep:
      rolling_hours: 24
      max_in_rolling: 60
    # Queued, scheduled and held messages reserve a slot; cancelled or failed ones free it.
    counted_statuses: [pending_review, scheduled, queued, sending, unknown, sent, delivered, read]
    exempt: [opt_out_confirmation, reply_in_window, medical_information]
    honour_hcp_limit: true

  quiet_hours:
    enabled: true
    start: "20:00"                 # in the HCP's time zone
    end: "08:00"
    weekend_days: true             # the market's weekend days are quiet all day
    public_holidays: true          # so are the market's public holidays
    reply_exemption_minutes: 60

  contact_windows:
    enforce: true
  preferences:
    enforce_preferred_channel: true

  promotional:
    whatsapp_allowed: false        # off unless a market's legal review turns it on

  meta:
    marketing_stop_blocks: true
    no_marketing_calling_codes: ["1"]

  service_window:
    hours: 24
    free_text_allowed: true
    free_text_review: true

  duplicates:
    same_template_within_days: 14
  opt_in:
    min_days_between: 30
    max_ever: 3
  language:
    match: primary                 # pt-BR template for a pt-PT speaker is fine; es for pt is not
  review:
    message_types: []
    promotional: false

  approvers:
    roles: [compliance]
  tone:
    emoji: false
    abbreviations: false
    slang: false

  # Words added to the built-in opt-out and opt-in readers, per language.
  keywords:
    opt_out: {}
    opt_in: {}

  retention:
    messages_days: 1825            # 5 years
    decisions_days: 1825
    interactions_days: 1825
    webhook_inbox_days: 90
    security_log_days: 365

  # Words added to the built-in triage lexicons: language -> signal -> words, e.g.
  #   pt: { adverse_reaction: [coceira*], product_complaint: [lacre violado] }
  triage: {}

markets:
  BR:
    promotional:
      whatsapp_allowed: true       # legal review: allowed with promotional consent
    tone:
      emoji: true
  ES:
    promotional:
      whatsapp_allowed: false
  IN:
    promotional:
      whatsapp_allowed: false
    tone:
      abbreviations: true
`;
