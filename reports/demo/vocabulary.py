"""Words the demo is made of: names, titles, ticket subjects, notes and verbatims.

Fixed lists rather than Faker so the data depends on the seed alone, not on a library
version's word lists.
"""

from __future__ import annotations

FIRST_NAMES = (
    "Aaliyah Aaron Abigail Adam Adrian Aiden Aisha Alejandro Alex Alexandra Ali Alice Amara "
    "Amelia Amir Ana Andre Andrea Andrew Angela Anika Anna Anthony Arjun Ava Beatriz Ben "
    "Benjamin Bianca Brandon Brian Caleb Camila Carla Carlos Caroline Catherine Chen Chloe "
    "Chris Christian Claire Daniel Daniela David Deepa Diana Diego Dmitri Elena Eli Elias "
    "Elijah Elizabeth Ella Emily Emma Eric Ethan Eva Evelyn Fatima Felix Fernando Fiona "
    "Gabriel Grace Hana Hannah Harper Hassan Henry Hiroshi Ian Imani Isaac Isabella Ivan "
    "Jack Jacob James Jamal Jasmine Javier Jessica Jin Joao John Jonas Jordan Jose Joseph "
    "Julia Julian Kai Karen Kate Kevin Kenji Kwame Laila Laura Leah Leo Liam Lily Lin "
    "Lucas Lucia Luis Maya Marco Maria Mariam Mark Martin Mateo Matthew Mei Mia Michael "
    "Miguel Mohammed Naomi Natalia Nathan Nia Nikhil Nina Noah Nora Olivia Omar Oscar Owen "
    "Paul Pedro Priya Rachel Rafael Rahul Raj Rebecca Ricardo Riya Robert Rosa Ryan Sakura "
    "Samuel Sara Sebastian Sofia Sophie Stefan Steven Sun Tariq Thomas Tomas Valentina "
    "Victor Victoria Wei William Yara Yusuf Zara Zoe"
).split()

LAST_NAMES = (
    "Abbott Adams Agarwal Ahmed Alvarez Andersen Bailey Baker Banerjee Barnes Becker Bell "
    "Bennett Bergstrom Bianchi Brooks Brown Bui Campbell Carter Castro Chang Chen Clarke "
    "Collins Cooper Costa Cruz Das Davies Delgado Diaz Dubois Edwards Evans Fernandes "
    "Fischer Fleming Foster Garcia Gomez Gonzalez Gordon Graham Gupta Hall Hansen Harris "
    "Hayes Hernandez Hoffmann Holmes Hughes Ibrahim Ito Jackson Jensen Johnson Jones Kapoor "
    "Kelly Khan Kim Klein Kowalski Kumar Larsen Lee Lewis Lopez Martin Martinez Mendes "
    "Meyer Miller Mitchell Moore Morales Morgan Murphy Nakamura Nguyen Nielsen Novak Okafor "
    "Oliveira Olsen Ortiz Osei Park Patel Perez Peters Phillips Price Quinn Ramirez Reddy "
    "Reyes Richter Rivera Roberts Robinson Rodriguez Rossi Russo Sanchez Santos Schmidt "
    "Schneider Scott Shah Silva Singh Smith Sorensen Stewart Sullivan Suzuki Tanaka Taylor "
    "Thomas Thompson Torres Tran Turner Vargas Walker Wang Ward Watanabe Weber Williams "
    "Wilson Wong Wright Yamamoto Yilmaz Young Zhang Zimmermann"
).split()

# Two halves of a made-up brand ("North" + "wind"), then an industry word and sometimes a
# legal form: tens of thousands of distinct, plausible names.
BRAND_HEADS = (
    "Acme Alder Alpine Amber Apex Arbor Ash Aspen Atlas Aurora Azure Beacon Birch Blue "
    "Bolt Bright Broad Cedar Clear Cloud Cobalt Copper Coral Crest Crown Crystal Delta "
    "Eagle East Ember Evergreen Falcon Fern Flint Fox Gold Granite Green Harbor Hawk "
    "Highland Indigo Iron Ivy Jade Juniper Keystone Lake Lark Maple Marble Meadow Mesa "
    "Milestone North Nova Oak Ocean Onyx Orbit Pacific Pine Pioneer Polar Prairie Quartz "
    "Raven Red Ridge River Rock Sage Sapphire Shore Sierra Silver Sky Slate Solar Spring "
    "Spruce Star Steel Stone Summit Sun Swift Terra Thunder Tide True Union Valley Vector "
    "Vertex Vista West Willow Wolf Zenith"
).split()

BRAND_TAILS = (
    "bay bridge brook crest dale field ford gate glen grove haven hill hurst land light "
    "line mark mont point port ridge rock shire side spring stone vale view water way "
    "well wind wood works"
).split()

LEGAL_FORMS = ("Inc.", "Ltd", "LLC", "GmbH", "Group", "Co.", "AG", "plc")

# industry -> words that end a company name in it; weights are the share of the book.
INDUSTRIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "Software": (18, ("Software", "Labs", "Systems", "Cloud", "Data", "Technologies", "AI")),
    "Financial services": (11, ("Capital", "Financial", "Bank", "Insurance", "Partners")),
    "Healthcare": (11, ("Health", "Medical", "Care", "Clinics", "Biosciences")),
    "Retail": (10, ("Retail", "Outfitters", "Market", "Stores", "Goods")),
    "Manufacturing": (10, ("Manufacturing", "Industries", "Fabrication", "Components")),
    "Logistics": (8, ("Logistics", "Freight", "Shipping", "Transport")),
    "Education": (7, ("Learning", "Academy", "Education", "Schools")),
    "Media": (6, ("Media", "Studios", "Publishing", "Broadcasting")),
    "Professional services": (7, ("Consulting", "Advisory", "Associates", "Legal")),
    "Hospitality": (4, ("Hotels", "Hospitality", "Resorts", "Dining")),
    "Energy": (4, ("Energy", "Power", "Renewables", "Utilities")),
    "Telecommunications": (4, ("Telecom", "Networks", "Communications")),
}
# Industries that work weekends: usage drops less on Saturday and Sunday.
WEEKEND_INDUSTRIES = frozenset({"Retail", "Healthcare", "Logistics", "Hospitality", "Media"})

DOMAIN_ENDINGS = (".com", ".com", ".com", ".io", ".co", ".net")

DECISION_MAKER_TITLES = (
    "VP of Operations",
    "Head of Customer Experience",
    "Director of IT",
    "VP of Sales",
    "Head of Revenue Operations",
    "Director of Product",
    "VP of Customer Support",
    "Head of Analytics",
)
SPONSOR_TITLES = (
    "Chief Operating Officer",
    "Chief Technology Officer",
    "Chief Revenue Officer",
    "Chief Executive Officer",
    "Chief Financial Officer",
    "SVP of Operations",
)
CONTACT_TITLES = (
    "Operations Manager",
    "Product Manager",
    "Systems Administrator",
    "Business Analyst",
    "Team Lead",
    "Customer Support Manager",
    "Data Analyst",
    "Sales Operations Manager",
    "IT Manager",
    "Project Manager",
    "Marketing Operations Lead",
    "Solutions Engineer",
)

CHURN_REASON_WEIGHTS: dict[str, int] = {
    "poor_adoption": 20,
    "price": 15,
    "competitor": 15,
    "budget": 14,
    "champion_left": 12,
    "product_fit": 10,
    "acquired": 6,
    "out_of_business": 4,
    "other": 4,
}
# Reasons that arrive with little warning in the product data: noise for the health score.
SILENT_CHURN_REASONS = frozenset({"acquired", "out_of_business", "budget"})
CHURN_NOTES: dict[str, tuple[str, ...]] = {
    "poor_adoption": (
        "Never got past the pilot team; usage stayed under a third of seats.",
        "Rollout stalled after the admin left; nobody owned adoption.",
    ),
    "price": (
        "Renewal quote was above their budget line; asked for 40% off.",
        "Procurement pushed for a cheaper tier we do not offer.",
    ),
    "competitor": (
        "Moved to a competitor bundled with their CRM.",
        "Chose a competitor after a bake-off on reporting.",
    ),
    "budget": (
        "Company-wide cost cutting; all non-core tools cancelled.",
        "Budget frozen for the fiscal year.",
    ),
    "champion_left": (
        "Our champion left; the new VP brought their own tools.",
        "Sponsor moved to another company mid-term.",
    ),
    "product_fit": (
        "Needed on-premise deployment we do not support.",
        "Their workflow needs deeper ERP integration than we have.",
    ),
    "acquired": ("Acquired; the parent company standardises on its own platform.",),
    "out_of_business": ("Company wound down operations.",),
    "other": ("Project ended; no further need.",),
}

FEATURES = (
    "dashboards",
    "scheduled exports",
    "the Salesforce sync",
    "workflow automation",
    "SSO",
    "custom reports",
    "the API",
    "the mobile app",
    "alerts",
    "the audit log",
)
TOPICS = (
    "rollout to the support team",
    "Q3 goals",
    "reporting needs",
    "the integration roadmap",
    "seat usage",
    "admin training",
    "their data migration",
    "renewal timeline",
    "executive reporting",
    "new use cases in finance",
)

TICKET_SUBJECTS = (
    "Export to CSV times out",
    "Scheduled export arrives empty",
    "Dashboard loads slowly",
    "Salesforce sync stopped updating",
    "SSO login fails for new users",
    "Cannot add more seats",
    "Report totals do not match",
    "API returns 429 rate limit errors",
    "Webhook deliveries failing",
    "Invoice shows wrong billing address",
    "How do I set up a custom field?",
    "User cannot reset password",
    "Permissions: manager cannot see team data",
    "Mobile app crashes on login",
    "Bulk import rejected rows",
    "Request: dark mode",
    "Email notifications delayed",
    "Chart shows no data for last week",
    "Data missing after integration change",
    "Need help configuring workflow automation",
)
# Subjects that read as escalations; urgent tickets draw from these.
URGENT_TICKET_SUBJECTS = (
    "Production outage: app unavailable",
    "Data missing after integration change",
    "SSO login fails for all users",
    "Salesforce sync stopped updating",
    "Export to CSV times out",
)

# (kind, sentiment) -> summary templates; {contact}, {feature}, {topic}, {n} are filled in.
INTERACTION_SUMMARIES: dict[str, dict[str, tuple[str, ...]]] = {
    "call": {
        "positive": (
            "Check-in call with {contact}. Team is happy with {feature}; adoption up to {n} "
            "weekly users.",
            "Call with {contact} about {topic}. Clear plan, good energy.",
            "{contact} called to say {feature} saved their team hours this month.",
        ),
        "neutral": (
            "Call with {contact} about {topic}. Agreed to revisit in two weeks.",
            "Routine check-in with {contact}; no blockers raised.",
            "Walked {contact} through {feature}; they will trial it with their team.",
        ),
        "negative": (
            "Tense call with {contact}: {feature} is not working for them and they are "
            "questioning the value.",
            "{contact} raised frustration about open tickets and slow responses.",
            "Call with {contact}: usage is down, team has gone back to spreadsheets.",
        ),
    },
    "meeting": {
        "positive": (
            "Workshop with {contact} on {topic}; they want to roll out {feature} to more teams.",
            "On-site with {contact}: strong adoption, discussed expansion to {n} more seats.",
        ),
        "neutral": (
            "Meeting with {contact} to review {topic}. Action items captured.",
            "Training session for {contact}'s team on {feature}.",
        ),
        "negative": (
            "Escalation meeting with {contact}: reporting gaps are blocking their month-end.",
            "Meeting with {contact}; they are evaluating alternatives before renewal.",
        ),
    },
    "email": {
        "positive": (
            "{contact} replied with thanks for the {feature} tips; shared with their team.",
            "Sent recap on {topic}; {contact} confirmed next steps.",
        ),
        "neutral": (
            "Emailed {contact} the release notes for {feature}.",
            "Sent {contact} the usage summary for last month.",
            "Followed up with {contact} on {topic}.",
        ),
        "negative": (
            "No reply from {contact} after three follow-ups on {topic}.",
            "{contact} asked for a pricing review before the renewal.",
        ),
    },
    "qbr": {
        "positive": (
            "QBR with {contact}: goals met, ROI story agreed, expansion discussed.",
            "EBR with {contact}: exec sponsor engaged, roadmap for {feature} well received.",
        ),
        "neutral": (
            "QBR with {contact}: reviewed usage and tickets, set goals for next quarter.",
            "QBR with {contact}: steady quarter, focus next on {topic}.",
        ),
        "negative": (
            "QBR with {contact}: usage below plan, sponsor unhappy with {feature}.",
            "QBR with {contact}: they want a price reduction or fewer seats at renewal.",
        ),
    },
    "note": {
        "positive": ("Account healthy; champion {contact} is advocating internally.",),
        "neutral": (
            "Internal note: renewal owner confirmed as {contact}.",
            "Note: {contact} is the day-to-day admin now.",
        ),
        "negative": (
            "Risk: {contact} mentioned a competitor demo last week.",
            "Risk: sponsor change at the account; {contact} unsure who owns the budget.",
        ),
    },
}

TASK_TITLES_FROM_INTERACTION = (
    "Send recap and next steps to {contact}",
    "Share {feature} best practices with {contact}",
    "Book a training session on {feature}",
    "Follow up with {contact} on {topic}",
    "Escalate open tickets for {contact}",
    "Send usage report to {contact}",
    "Schedule next QBR with {contact}",
)
TASK_TITLES_MANUAL = (
    "Prepare renewal proposal",
    "Confirm executive sponsor before renewal",
    "Review usage drop with champion",
    "Plan onboarding kickoff",
    "Check in on integration rollout",
    "Update success plan",
    "Ask for a customer reference",
)

# Survey comments by theme; detractor comments name what went wrong.
DETRACTOR_COMMENTS = (
    "Exports are painfully slow on large reports.",
    "Reporting is too limited; we still rebuild everything in Excel.",
    "Onboarding took months and we never got fully set up.",
    "Too expensive for what we actually use.",
    "Support takes days to answer anything.",
    "The Salesforce integration keeps breaking.",
    "Our team does not use it much anymore.",
    "Price went up again at renewal.",
    "Tickets get closed without a fix.",
    "Missing integrations with the tools we rely on.",
)
PASSIVE_COMMENTS = (
    "Does the job, but exports could be faster.",
    "Good product, reporting needs more flexibility.",
    "Fine overall; onboarding could be smoother.",
    "Pricing is a bit high for smaller teams.",
    "Support is helpful but slow at times.",
    "Would love more integrations.",
)
PROMOTER_COMMENTS = (
    "Our CSM is fantastic and always responsive.",
    "Dashboards save us hours every week.",
    "Onboarding was smooth and the team adopted it quickly.",
    "Support answers within the hour. Great experience.",
    "The integrations just work.",
    "Reporting finally gives leadership what they need.",
)
CSAT_LOW_COMMENTS = (
    "Took too long to get a real answer.",
    "Issue came back the next day.",
    "Had to explain the problem three times.",
)
CSAT_HIGH_COMMENTS = (
    "Quick and clear, thank you!",
    "Fixed on the first reply.",
    "Very helpful agent.",
)
CES_COMMENTS = (
    "Had to contact support twice.",
    "Easy, the help article solved it.",
    "Took some back and forth.",
)
