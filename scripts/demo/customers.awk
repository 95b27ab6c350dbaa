# customers.awk - demo data for the customers service, as SQL on stdout.
#
#   awk -v n=1200 -f scripts/demo/customers.awk | mariadb crm_customers
#
# Prints n customers (ids 1..n) with tags and 1..5 timeline notes each, in
# multi-row INSERTs of up to 200 rows inside one transaction. Meant for
# empty tables (the ids are explicit so that notes and tags can refer to
# their customer).
#
# Deterministic: the same n gives the same SQL with mawk, gawk or any POSIX
# awk, because the random numbers come from our own generator (Park-Miller,
# exact in double precision), not from rand(). Times are relative to the
# moment of loading (@now, UTC): customers were created over the last two
# years, updated since, and their notes come after their creation.

BEGIN {
    if (n == "")
        n = 1000
    n = int(n)
    if (n < 1) {
        print "customers.awk: n must be a positive number" > "/dev/stderr"
        exit 1
    }
    BATCH = 200
    TWO_YEARS = 2 * 365 * 86400
    seed = 20261127

    # Display name|slug for the email address.
    nfirst = split("Ada|ada Alan|alan Grace|grace Linus|linus Margaret|margaret " \
        "José|jose Zoë|zoe Łukasz|lukasz Ngozi|ngozi Hiroshi|hiroshi Søren|soren " \
        "Björn|bjorn François|francois Chloé|chloe Anaïs|anais Jürgen|jurgen " \
        "Siobhán|siobhan Małgorzata|malgorzata Chidi|chidi Amara|amara Yuki|yuki " \
        "Haruto|haruto Priya|priya Aarav|aarav Wei|wei Mei|mei Fatima|fatima " \
        "Yusuf|yusuf Ingrid|ingrid Dmitri|dmitri Olga|olga Mateus|mateus Ana|ana " \
        "Lucía|lucia Sofía|sofia Diego|diego Emma|emma Liam|liam Olivia|olivia " \
        "Noah|noah Mia|mia Lukas|lukas Lea|lea Tomás|tomas Aoife|aoife Kwame|kwame " \
        "Thandiwe|thandiwe Ravi|ravi Ananya|ananya Min-jun|minjun Seo-yeon|seoyeon " \
        "Omar|omar Layla|layla Henrik|henrik Astrid|astrid Pedro|pedro Camille|camille " \
        "Zuzana|zuzana Ömer|omer Elif|elif Nikolai|nikolai Sven|sven Maya|maya " \
        "Daniel|daniel Sarah|sarah Michael|michael Laura|laura", first, " ")
    nlast = split("Lovelace|lovelace Turing|turing Hopper|hopper Hamilton|hamilton " \
        "García|garcia Müller|muller Nowak|nowak Okafor|okafor Tanaka|tanaka " \
        "Sørensen|sorensen Lindqvist|lindqvist Dubois|dubois Rossi|rossi Silva|silva " \
        "Kim|kim Lee|lee Chen|chen Wang|wang Patel|patel Sharma|sharma Nguyen|nguyen " \
        "O'Brien|obrien Fernández|fernandez Kowalski|kowalski Wiśniewska|wisniewska " \
        "Adeyemi|adeyemi Mensah|mensah Nakamura|nakamura Suzuki|suzuki Schmidt|schmidt " \
        "Schneider|schneider Fischer|fischer Martin|martin Bernard|bernard Moreau|moreau " \
        "Bianchi|bianchi Romano|romano Santos|santos Oliveira|oliveira Pereira|pereira " \
        "Ivanov|ivanov Petrova|petrova Novák|novak Horváth|horvath Yılmaz|yilmaz " \
        "Kaya|kaya Haddad|haddad Khan|khan Ali|ali Murphy|murphy Kelly|kelly " \
        "Smith|smith Johnson|johnson Williams|williams Brown|brown Jones|jones " \
        "Andersen|andersen Nielsen|nielsen Johansson|johansson Virtanen|virtanen " \
        "Van der Berg|vanderberg De Jong|dejong Park|park Choi|choi Singh|singh", last, " ")
    # split() on " " would cut "Van der Berg": glue pieces without a "|" back on.
    nlast = rejoin(last, nlast)

    ncomp1 = split("Acme Globex Initech Umbrella Northwind Contoso Fabrikam Tailspin " \
        "Wayfarer Bluebird Redwood Ironclad Silverline Evergreen Brightwater Kestrel " \
        "Lumen Quantum Polaris Meridian Harbor Summit Orchard Cobalt Granite Juniper " \
        "Baltic Sahara Kyoto Lagos Andes Nordic Alpine Atlas Vertex Helix", comp1, " ")
    ncomp2 = split("Logistics|Software|Foods|Analytics|Textiles|Robotics|Health|Energy|" \
        "Consulting|Media|Pharma|Motors|Finance|Design|Labs|Systems|Outfitters|" \
        "Hospitality|Security|Travel", comp2, "|")
    ncomp3 = split("Ltd|GmbH|Inc.|S.A.|Sp. z o.o.|K.K.|BV|LLC|AB|Oy|SRL|PLC|Pty Ltd", comp3, "|")
    nfree = split("example.com example.org example.net mail.example.com", freemail, " ")
    # Country code and number of digits after it.
    nphone = split("1:10 44:10 49:11 48:9 234:10 81:10 34:9 33:9 45:8 46:9 55:11 91:10", phone, " ")
    ntag = split("b2b b2c enterprise newsletter partner smb trial vip", tags, " ")

    nproduct = split("Pro plan|Enterprise plan|Analytics add-on|API access|mobile app|" \
        "onboarding package|Starter plan|SSO module|reporting suite|support contract", product, "|")
    nteam = split("finance|operations|IT|sales|marketing|procurement|legal|support", team, "|")
    nday = split("Monday Tuesday Wednesday Thursday Friday", day, " ")

    nk = split("note call email meeting", kinds, " ")
    nt["note"] = split("Prefers email over phone calls.|" \
        "Budget for the %P is approved for next quarter.|" \
        "Our champion moved to a new role; need a new contact in %T.|" \
        "Asked about GDPR and where their data is stored.|" \
        "Renewal is due in %N months.|" \
        "Referred by an existing customer in the same industry.|" \
        "Unhappy with response times last month; keep an eye on this.|" \
        "Interested in a case study about the %P.", tnote, "|")
    nt["call"] = split("Intro call: %N seats, decision expected by %D.|" \
        "Called about the %P renewal; they want a quote by %D.|" \
        "Left a voicemail about the %P trial.|" \
        "Discovery call with the %T team, good fit for the %P.|" \
        "Follow-up call: pricing is fine, waiting on %T sign-off.|" \
        "Support escalation call, resolved on the spot.|" \
        "Quick check-in; no open issues.", tcall, "|")
    nt["email"] = split("Sent the %P pricing sheet.|" \
        "Followed up on the %P proposal.|" \
        "Answered questions about SSO and data export.|" \
        "Shared onboarding docs with the %T team.|" \
        "Sent the contract for signature.|" \
        "Invoice reminder sent; payment promised by %D.|" \
        "Newsletter bounced; asked for an updated address.", temail, "|")
    nt["meeting"] = split("Demo of the %P for the %T team.|" \
        "Quarterly business review: usage up %N0%.|" \
        "On-site workshop with %N people from %T.|" \
        "Kick-off meeting for the %P rollout.|" \
        "Negotiation meeting; agreed on a %N0% discount for two years.|" \
        "Lunch with the head of %T on %D.", tmeeting, "|")

    print "-- demo data for crm_customers, generated by scripts/demo/customers.awk n=" n
    print "SET NAMES utf8mb4;"
    print "SET time_zone = '+00:00';"
    print "SET @now = UTC_TIMESTAMP(6);"
    print "START TRANSACTION;"

    note_id = 0
    for (lo = 1; lo <= n; lo += BATCH) {
        hi = lo + BATCH - 1
        if (hi > n)
            hi = n
        ntags_rows = 0
        nnote_rows = 0
        print "INSERT INTO customers (id, name, email, phone, company, status, owner_id, tags," \
            " created_at, updated_at) VALUES"
        for (id = lo; id <= hi; id++) {
            printf "%s%s\n", customer(id), (id < hi ? "," : ";")
        }
        flush_rows("INSERT INTO customer_tags (customer_id, tag) VALUES", tag_rows, ntags_rows)
        flush_rows("INSERT INTO customer_notes (id, customer_id, kind, body, author_id," \
            " created_at) VALUES", note_rows, nnote_rows)
    }
    print "COMMIT;"
    exit 0
}

# Park-Miller minimal standard generator: 16807 * (2^31 - 2) < 2^53, so the
# arithmetic is exact in the doubles every awk uses.
function rnd() {
    seed = (seed * 16807) % 2147483647
    return seed / 2147483647
}

# An integer in [a, b].
function between(a, b) {
    return a + int(rnd() * (b - a + 1))
}

function pick(arr, count) {
    return arr[between(1, count)]
}

function rejoin(arr, count,    i, out, cur) {
    out = 0
    cur = ""
    for (i = 1; i <= count; i++) {
        cur = (cur == "" ? arr[i] : cur " " arr[i])
        if (index(arr[i], "|") > 0) {
            arr[++out] = cur
            cur = ""
        }
    }
    return out
}

function before_bar(s) {
    return substr(s, 1, index(s, "|") - 1)
}

function after_bar(s) {
    return substr(s, index(s, "|") + 1)
}

# A SQL string literal. The data has no backslashes (the client would
# read them as escapes), only apostrophes.
function q(s) {
    gsub(/'/, "''", s)
    return "'" s "'"
}

function slug(s) {
    s = tolower(s)
    gsub(/[^a-z0-9]+/, "-", s)
    gsub(/^-|-$/, "", s)
    return s
}

# The moment secs seconds and usecs microseconds before @now.
function ago(secs, usecs) {
    return sprintf("@now - INTERVAL '%d.%06d' SECOND_MICROSECOND", secs, usecs)
}

function customer(id,    f, l, name, local_part, domain, email, company, c, ph, cc, digits, i,
                         status, r, owner, created, cus, updated, uus, k, chosen, tj, t, list, tagjson,
                         nn, offs, j, tmp) {
    f = pick(first, nfirst)
    l = pick(last, nlast)
    name = before_bar(f) " " before_bar(l)

    # Most people write from their company's domain, some from a free one.
    company = ""
    domain = ""
    if (rnd() < 0.8) {
        company = pick(comp1, ncomp1) " " pick(comp2, ncomp2)
        if (rnd() < 0.65)
            domain = slug(company) ".example"
        if (rnd() < 0.7)
            company = company " " pick(comp3, ncomp3)
    }
    if (domain == "")
        domain = pick(freemail, nfree)
    local_part = after_bar(f) "." after_bar(l)
    if (rnd() < 0.2)
        local_part = substr(after_bar(f), 1, 1) after_bar(l)
    email = local_part "@" domain
    if (email in used)
        email = local_part "." id "@" domain
    used[email] = 1

    ph = "NULL"
    if (rnd() < 0.8) {
        split(pick(phone, nphone), cc, ":")
        digits = "+" cc[1] between(2, 9)
        for (i = 2; i <= cc[2]; i++)
            digits = digits between(0, 9)
        ph = q(digits)
    }

    r = rnd()
    status = r < 0.35 ? "lead" : r < 0.6 ? "prospect" : r < 0.9 ? "customer" : "churned"
    owner = rnd() < 0.15 ? "NULL" : between(2, 3)

    # 0..3 distinct tags, kept in alphabetical order (the list is sorted).
    k = between(0, 3)
    for (t = 1; t <= ntag; t++)
        chosen[t] = 0
    for (tj = 0; tj < k; ) {
        t = between(1, ntag)
        if (!chosen[t]) {
            chosen[t] = 1
            tj++
        }
    }
    list = ""
    for (t = 1; t <= ntag; t++) {
        if (chosen[t]) {
            list = list (list == "" ? "" : ",") "\"" tags[t] "\""
            tag_rows[++ntags_rows] = sprintf("(%d, '%s')", id, tags[t])
        }
    }
    tagjson = "[" list "]"

    # Ids follow time, as they would have: customer 1 is the oldest.
    created = 3600 + int((TWO_YEARS - 3600) * (n - id + rnd()) / n)
    # Never updated (updated_at = created_at) or some time since.
    cus = between(0, 999999)
    if (rnd() < 0.3) {
        updated = created
        uus = cus
    } else {
        updated = int(created * rnd())
        uus = between(0, 999999)
    }

    # 1..5 notes between the creation and now, oldest first (ids follow time).
    nn = between(1, 5)
    for (j = 1; j <= nn; j++)
        offs[j] = between(60, created - 1)
    for (j = 2; j <= nn; j++) {
        tmp = offs[j]
        for (i = j - 1; i >= 1 && offs[i] < tmp; i--)
            offs[i + 1] = offs[i]
        offs[i + 1] = tmp
    }
    for (j = 1; j <= nn; j++)
        note_rows[++nnote_rows] = note(id, offs[j], owner)

    return sprintf("(%d, %s, %s, %s, %s, '%s', %s, %s, %s, %s)", id, q(name), q(email), ph,
        company == "" ? "NULL" : q(company), status, owner, q(tagjson), ago(created, cus),
        ago(updated, uus))
}

function note(cid, secs, owner,    kind, body, author) {
    kind = pick(kinds, nk)
    if (kind == "note")
        body = pick(tnote, nt[kind])
    else if (kind == "call")
        body = pick(tcall, nt[kind])
    else if (kind == "email")
        body = pick(temail, nt[kind])
    else
        body = pick(tmeeting, nt[kind])
    body = fill(body)
    author = rnd() < 0.1 ? "NULL" : (owner != "NULL" && rnd() < 0.7 ? owner : between(1, 5))
    return sprintf("(%d, %d, '%s', %s, %s, %s)", ++note_id, cid, kind, q(body), author,
        ago(secs, between(0, 999999)))
}

# Fill %P (product), %T (team), %D (weekday), %N (small number).
function fill(s,    out, i, c) {
    out = ""
    while ((i = index(s, "%")) > 0) {
        c = substr(s, i + 1, 1)
        out = out substr(s, 1, i - 1)
        if (c == "P")
            out = out pick(product, nproduct)
        else if (c == "T")
            out = out pick(team, nteam)
        else if (c == "D")
            out = out pick(day, nday)
        else if (c == "N")
            out = out between(2, 9)
        else
            out = out "%" c
        s = substr(s, i + 2)
    }
    return out s
}

function flush_rows(head, rows, count,    i) {
    for (i = 1; i <= count; i++) {
        if ((i - 1) % BATCH == 0)
            print head
        printf "%s%s\n", rows[i], (i % BATCH == 0 || i == count ? ";" : ",")
    }
}
