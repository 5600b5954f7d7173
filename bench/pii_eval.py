"""PII detection: precision/recall per kind on a labelled multilingual set, and MB/s per core.

The set is generated here, deterministically (seed), from the demo sentence bank
(samples/demo_sentences.py, 14 languages, 8 scripts: the languages the detector was tuned on) and
5 held-out languages in 5 more scripts (Hebrew, Greek, Georgian, Armenian, Bengali: HELD_OUT, with
their own sentences, context words and local look-alikes, some Bengali numbers in Bengali digits),
reported on their own as well, with PII written into per-language templates: valid e-mail addresses, phone numbers (libphonenumber example numbers of each
language's regions, varied and re-validated, national and international format), IPv4/IPv6,
IBANs and card numbers with correct checksums, national IDs of the 10 documented countries.
Every document also carries look-alikes that must not be found: version numbers, dates,
times, prices, ISBNs, card and IBAN numbers with a wrong checksum, order numbers, postcodes.

Scoring is per span: a found span is a true positive when it overlaps a gold span of the same
kind. Baseline in the same run: datatrove's PIIFormatter regexes (e-mail and IPv4 only, all
IPs, not only public ones). Speed: single process, CPU seconds (the machine is shared), on the
labelled set (dense PII) and on real text without planted PII (../shared/data UD documents,
when present).

    python bench/pii_eval.py                 # -> bench/results/pii_eval.json
    python bench/pii_eval.py --write out.jsonl   # also write the labelled set
"""
from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "samples"))
from demo_sentences import BANK  # noqa: E402
from make_demo import fill_slots  # noqa: E402

from xcurate.web.pii import IBAN_LENGTHS, PiiDetector, Span, luhn_ok, verhoeff_ok  # noqa: E402

SEED = 16
DOCS_PER_LANG = 45
# "{v}" is the PII value; one template set per language, written for this benchmark.
TEMPLATES = {
    "eng_Latn": ["For questions write to {v}.", "You can reach the office at {v} during the week.", "The record lists {v} as the contact."],
    "deu_Latn": ["Fragen bitte an {v} richten.", "Das Büro ist unter {v} erreichbar.", "Im Formular steht {v} als Angabe."],
    "fra_Latn": ["Pour toute question, écrivez à {v}.", "Le bureau est joignable au {v} en semaine.", "Le dossier indique {v}."],
    "spa_Latn": ["Para dudas escriba a {v}.", "La oficina atiende en el {v} de lunes a viernes.", "El registro indica {v}."],
    "por_Latn": ["Dúvidas podem ser enviadas para {v}.", "O escritório atende pelo {v} durante a semana.", "O cadastro mostra {v}."],
    "rus_Cyrl": ["Вопросы присылайте на {v}.", "С офисом можно связаться по {v} в будни.", "В анкете указано: {v}."],
    "arb_Arab": ["للاستفسار راسلونا على {v} .", "يمكن الاتصال بالمكتب على {v} خلال الأسبوع.", "يذكر السجل {v} للتواصل."],
    "hin_Deva": ["प्रश्नों के लिए {v} पर लिखें।", "कार्यालय से {v} पर संपर्क करें।", "रिकॉर्ड में {v} दर्ज है।"],
    "vie_Latn": ["Mọi thắc mắc xin gửi về {v}.", "Văn phòng nhận cuộc gọi qua số {v} trong tuần.", "Hồ sơ ghi {v}."],
    "tur_Latn": ["Sorularınız için {v} adresine yazın.", "Ofise hafta içi {v} üzerinden ulaşabilirsiniz.", "Kayıtta {v} yazıyor."],
    "kor_Hang": ["문의는 {v} 로 보내 주세요.", "사무실 연락처는 {v} 입니다.", "기록에는 {v} 이(가) 적혀 있습니다."],
    "zho_Hans": ["如有问题请写信至 {v} 。", "办公室电话是 {v} ，工作日可拨打。", "记录中写着 {v} 。"],
    "jpn_Jpan": ["お問い合わせは {v} までお送りください。", "事務所の連絡先は {v} です。", "記録には {v} と書かれています。"],
    "tha_Thai": ["สอบถามได้ที่ {v} ครับ", "ติดต่อสำนักงานได้ที่ {v} ในวันทำการ", "ในบันทึกระบุ {v} ไว้"],
}
PHONE_REGIONS = {"eng_Latn": ["US", "GB", "AU", "IN"], "deu_Latn": ["DE", "AT", "CH"], "fra_Latn": ["FR", "BE"],
                 "spa_Latn": ["ES", "MX"], "por_Latn": ["BR", "PT"], "rus_Cyrl": ["RU"], "arb_Arab": ["SA", "EG"],
                 "hin_Deva": ["IN"], "vie_Latn": ["VN"], "tur_Latn": ["TR"], "kor_Hang": ["KR"], "zho_Hans": ["CN"],
                 "jpn_Jpan": ["JP"], "tha_Thai": ["TH"]}
ID_COUNTRY = {"eng_Latn": ["US", "GB", "IN"], "fra_Latn": ["FR"], "spa_Latn": ["ES"], "por_Latn": ["BR"],
              "hin_Deva": ["IN"], "zho_Hans": ["CN"], "kor_Hang": ["KR"], "deu_Latn": ["IT", "PL"]}
KINDS = ("EMAIL", "PHONE", "IP_ADDRESS", "IBAN", "CREDIT_CARD", "NATIONAL_ID")

# Held-out scripts: languages added after the detector was written and tuned, each with its own filler
# sentences (the demo bank has none), contact templates, a "label: value" template with the kind named in the
# language, and look-alikes with the language's own context words (version, order number, invoice, local price,
# date and postcode formats). Measured as they are: nothing in xcurate/web/pii.py was changed for them.
HELD_OUT = {
    "heb_Hebr": {
        "sentences": ["הספרייה העירונית פתוחה עד שמונה בערב בימי חול.",
                      "בסוף השבוע ירד גשם כבד וכמה כבישים בצפון נחסמו לכמה שעות.",
                      "המורה ביקשה מהתלמידים להביא מחברת חדשה ביום ראשון.",
                      "השוק הישן מלא באנשים בכל יום שישי בבוקר.",
                      "אחרי הארוחה טיילנו לאורך החוף עד השקיעה.",
                      "העירייה הודיעה על שיפוץ הגן הציבורי שליד בית הספר."],
        "templates": ["לשאלות כתבו אל {v}.", "אפשר לפנות למשרד דרך {v} במהלך השבוע.", "ברשומה מופיע {v} כפרטי הקשר."],
        "labels": {"EMAIL": "דוא\"ל", "PHONE": "טלפון", "IP_ADDRESS": "כתובת IP", "IBAN": "מספר חשבון (IBAN)",
                   "CREDIT_CARD": "מספר כרטיס אשראי", "NATIONAL_ID": "מספר זיהוי"},
        "version": "גרסה", "order": "מספר הזמנה", "invoice": "חשבונית מס'", "price": "₪{a},{b:03d}.{c:02d}",
        "date": "{d:02d}.{m:02d}.{y}", "postcode": "{p:07d}", "cities": ["ירושלים", "חיפה", "באר שבע"],
        "phone_regions": ["IL"], "iban_countries": ["IL"], "digits": None,
    },
    "ell_Grek": {
        "sentences": ["Η δημοτική βιβλιοθήκη μένει ανοιχτή μέχρι τις οκτώ το βράδυ τις καθημερινές.",
                      "Το Σαββατοκύριακο έβρεξε πολύ και κάποιοι δρόμοι στον βορρά έκλεισαν για ώρες.",
                      "Η δασκάλα ζήτησε από τους μαθητές να φέρουν καινούργιο τετράδιο τη Δευτέρα.",
                      "Η παλιά αγορά γεμίζει κόσμο κάθε Παρασκευή πρωί.",
                      "Μετά το φαγητό περπατήσαμε στην παραλία μέχρι το ηλιοβασίλεμα.",
                      "Ο δήμος ανακοίνωσε την ανακαίνιση του πάρκου δίπλα στο σχολείο."],
        "templates": ["Για ερωτήσεις γράψτε στο {v}.", "Μπορείτε να επικοινωνήσετε με το γραφείο στο {v} τις καθημερινές.",
                      "Στο αρχείο αναγράφεται {v} ως στοιχείο επικοινωνίας."],
        "labels": {"EMAIL": "Email", "PHONE": "Τηλέφωνο", "IP_ADDRESS": "Διεύθυνση IP", "IBAN": "Αριθμός λογαριασμού (IBAN)",
                   "CREDIT_CARD": "Αριθμός κάρτας", "NATIONAL_ID": "Αριθμός ταυτότητας"},
        "version": "έκδοση", "order": "Αρ. παραγγελίας", "invoice": "Τιμολόγιο αρ.", "price": "{a}.{b:03d},{c:02d} €",
        "date": "{d:02d}/{m:02d}/{y}", "postcode": "{p3:03d} {p2:02d}", "cities": ["Αθήνα", "Θεσσαλονίκη", "Πάτρα"],
        "phone_regions": ["GR", "CY"], "iban_countries": ["GR", "CY"], "digits": None,
    },
    "kat_Geor": {
        "sentences": ["ქალაქის ბიბლიოთეკა სამუშაო დღეებში საღამოს რვა საათამდეა ღია.",
                      "შაბათ-კვირას ძლიერი წვიმა იყო და ჩრდილოეთში რამდენიმე გზა ჩაიკეტა.",
                      "მასწავლებელმა მოსწავლეებს სთხოვა, ორშაბათს ახალი რვეული მოეტანათ.",
                      "ძველი ბაზარი ყოველ პარასკევს დილით ხალხით არის სავსე.",
                      "ვახშმის შემდეგ ზღვის სანაპიროზე მზის ჩასვლამდე ვისეირნეთ.",
                      "მერიამ სკოლის გვერდით მდებარე პარკის რემონტი გამოაცხადა."],
        "templates": ["კითხვების შემთხვევაში მოგვწერეთ: {v}.", "ოფისს სამუშაო დღეებში შეგიძლიათ დაუკავშირდეთ: {v}.",
                      "ჩანაწერში საკონტაქტოდ მითითებულია {v}."],
        "labels": {"EMAIL": "ელფოსტა", "PHONE": "ტელეფონი", "IP_ADDRESS": "IP მისამართი", "IBAN": "ანგარიშის ნომერი (IBAN)",
                   "CREDIT_CARD": "ბარათის ნომერი", "NATIONAL_ID": "პირადი ნომერი"},
        "version": "ვერსია", "order": "შეკვეთის ნომერი", "invoice": "ინვოისი №", "price": "{a} {b:03d},{c:02d} ₾",
        "date": "{d:02d}.{m:02d}.{y}", "postcode": "{p:04d}", "cities": ["თბილისი", "ბათუმი", "ქუთაისი"],
        "phone_regions": ["GE"], "iban_countries": ["GE"], "digits": None,
    },
    "hye_Armn": {
        "sentences": ["Քաղաքային գրադարանը աշխատանքային օրերին բաց է մինչև երեկոյան ութը։",
                      "Հանգստյան օրերին ուժեղ անձրև էր, և հյուսիսում մի քանի ճանապարհ փակվեց։",
                      "Ուսուցչուհին աշակերտներին խնդրեց երկուշաբթի օրը նոր տետր բերել։",
                      "Հին շուկան ամեն ուրբաթ առավոտ լիքն է մարդկանցով։",
                      "Ընթրիքից հետո լճի ափով քայլեցինք մինչև մայրամուտ։",
                      "Քաղաքապետարանը հայտարարեց դպրոցի կողքի այգու վերանորոգման մասին։"],
        "templates": ["Հարցերի դեպքում դիմեք՝ {v}։", "Աշխատանքային օրերին գրասենյակի հետ կապ՝ {v}։",
                      "Գրանցամատյանում որպես կոնտակտ նշված է {v}։"],
        "labels": {"EMAIL": "Էլ. փոստ", "PHONE": "Հեռախոս", "IP_ADDRESS": "IP հասցե", "IBAN": "Հաշվի համար (IBAN)",
                   "CREDIT_CARD": "Քարտի համար", "NATIONAL_ID": "Նույնականացման համար"},
        "version": "տարբերակ", "order": "Պատվերի համար", "invoice": "Հաշիվ №", "price": "{a} {b:03d} ֏",
        "date": "{d:02d}.{m:02d}.{y}", "postcode": "{p:04d}", "cities": ["Երևան", "Գյումրի", "Վանաձոր"],
        "phone_regions": ["AM"], "iban_countries": None, "digits": None,
    },
    "ben_Beng": {
        "sentences": ["শহরের গ্রন্থাগারটি কর্মদিবসে রাত আটটা পর্যন্ত খোলা থাকে।",
                      "সপ্তাহান্তে প্রবল বৃষ্টি হয়েছিল এবং উত্তরের কয়েকটি রাস্তা কয়েক ঘণ্টা বন্ধ ছিল।",
                      "শিক্ষিকা ছাত্রছাত্রীদের সোমবার নতুন খাতা আনতে বললেন।",
                      "পুরনো বাজারটি প্রতি শুক্রবার সকালে মানুষে ভরে যায়।",
                      "রাতের খাবারের পর আমরা সূর্যাস্ত পর্যন্ত নদীর ধারে হাঁটলাম।",
                      "পৌরসভা স্কুলের পাশের পার্কটি সংস্কারের ঘোষণা দিয়েছে।"],
        "templates": ["প্রশ্ন থাকলে লিখুন: {v}।", "কর্মদিবসে অফিসের সঙ্গে যোগাযোগ করতে পারেন: {v}।",
                      "নথিতে যোগাযোগের তথ্য হিসেবে {v} লেখা আছে।"],
        "labels": {"EMAIL": "ইমেইল", "PHONE": "ফোন", "IP_ADDRESS": "আইপি ঠিকানা", "IBAN": "অ্যাকাউন্ট নম্বর (IBAN)",
                   "CREDIT_CARD": "কার্ড নম্বর", "NATIONAL_ID": "পরিচয়পত্র নম্বর"},
        "version": "সংস্করণ", "order": "অর্ডার নং", "invoice": "চালান নং", "price": "{a},{b2:02d},{b:03d} টাকা",
        "date": "{d:02d}/{m:02d}/{y}", "postcode": "{p:04d}", "cities": ["ঢাকা", "চট্টগ্রাম", "খুলনা"],
        "phone_regions": ["BD", "IN"], "iban_countries": None, "digits": "০১২৩৪৫৬৭৮৯",
    },
}
NATIVE_DIGIT_SHARE = 0.3  # share of phone numbers and local look-alikes written in the script's own digits
PHONE_REGIONS.update({lang: h["phone_regions"] for lang, h in HELD_OUT.items()})
LANGUAGES = list(TEMPLATES) + list(HELD_OUT)


# ---------------------------------------------------------------------------------------
# values with valid checksums

def email(rng: random.Random) -> str:
    user = rng.choice(["anna.m", "j.smith", "kontakt", "info", "li.wei88", "s_rahman", "m.müller", "user+news"])
    host = rng.choice(["example.com", "mail.example.org", "beispiel.de", "exemple.fr", "correo.example.es", "пример.рф"])
    return f"{user}{rng.randint(1, 999)}@{host}"


def phone(rng: random.Random, lang: str) -> str:
    import phonenumbers as pn
    region = rng.choice(PHONE_REGIONS[lang])
    kind = rng.choice([pn.PhoneNumberType.MOBILE, pn.PhoneNumberType.FIXED_LINE])
    base = pn.example_number_for_type(region, kind) or pn.example_number(region)
    for _ in range(50):
        national = str(base.national_number)
        varied = national[:-3] + "".join(rng.choice(string.digits) for _ in range(3))
        number = pn.parse(varied, region)
        if pn.is_valid_number(number):
            fmt = rng.choice([pn.PhoneNumberFormat.NATIONAL, pn.PhoneNumberFormat.INTERNATIONAL])
            return pn.format_number(number, fmt)
    return pn.format_number(base, pn.PhoneNumberFormat.INTERNATIONAL)


def ip(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return ":".join(f"{rng.randint(0, 65535):x}" for _ in range(8))
    return ".".join(str(rng.randint(1, 254)) for _ in range(4))


def iban(rng: random.Random, valid: bool = True, countries: Optional[List[str]] = None) -> str:
    country = rng.choice(countries or ["DE", "FR", "GB", "ES", "IT", "NL", "PL", "TR", "SA", "BR", "PT", "CH"])
    n = IBAN_LENGTHS[country] - 4
    bank = {"GB": "WEST", "GE": "NB"}.get(country, "")  # BBANs that start with a bank code in letters
    bban = bank + "".join(rng.choice(string.digits) for _ in range(n - len(bank)))
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    check = check if valid else (check + 1) % 97 or 2
    compact = f"{country}{check:02d}{bban}"
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4)) if rng.random() < 0.7 else compact


def card(rng: random.Random, valid: bool = True) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)])
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    digit = next(d for d in string.digits if luhn_ok(body + d))
    if not valid:
        digit = str((int(digit) + 1) % 10)
    number = body + digit
    sep = rng.choice([" ", "-", ""])
    groups = [number[i:i + 4] for i in range(0, len(number), 4)] if length == 16 else [number[:4], number[4:10], number[10:]]
    return sep.join(groups)


def _weighted(digits: str, weights) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights))


def national_id(rng: random.Random, country: str) -> str:
    r = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    if country == "US":
        return f"{rng.randint(1, 665):03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    if country == "GB":  # prefixes HMRC never issues (BG, GB, NK, KN, TN, NT, ZZ) left out
        prefix = rng.choice([a + b for a in "ABCEHJKLMPRSTWXYZ" for b in "ABCEHJKLMNPRSTWXYZ"
                             if a + b not in ("BG", "GB", "NK", "KN", "TN", "NT", "ZZ")])
        return f"{prefix} {r(2)} {r(2)} {r(2)} {rng.choice('ABCD')}"
    if country == "FR":
        body = f"{rng.randint(1, 2)}{r(2)}{rng.randint(1, 12):02d}{rng.randint(1, 95):02d}{r(3)}{r(3)}"
        return f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:13]} {97 - int(body) % 97:02d}"
    if country == "ES":
        n = r(8)
        return n + "TRWAGMYFPDXBNJZSQVHLCKE"[int(n) % 23]
    if country == "IT":
        from xcurate.web.pii import _IT_ODD
        s = "".join(rng.choice(string.ascii_uppercase) for _ in range(6)) + r(2) + rng.choice("ABCDEHLMPRST") + \
            f"{rng.randint(1, 71):02d}" + rng.choice(string.ascii_uppercase) + r(3)
        total = sum(_IT_ODD[c] if i % 2 == 0 else (int(c) if c.isdigit() else ord(c) - 65) for i, c in enumerate(s))
        return s + chr(65 + total % 26)
    if country == "BR":
        d = r(9)
        d += str(_weighted(d, range(10, 1, -1)) * 10 % 11 % 10)
        d += str(_weighted(d, range(11, 1, -1)) * 10 % 11 % 10)
        return f"{d[:3]}.{d[3:6]}.{d[6:9]}-{d[9:]}"
    if country == "IN":
        body = str(rng.randint(2, 9)) + r(10)
        d = next(c for c in string.digits if verhoeff_ok(body + c))
        n = body + d
        return f"{n[:4]} {n[4:8]} {n[8:]}"
    if country == "CN":
        body = r(6) + f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}" + r(3)
        return body + "10X98765432"[_weighted(body, [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]) % 11]
    if country == "KR":
        body = f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(1, 2)}{r(5)}"
        return f"{body[:6]}-{body[6:]}{(11 - _weighted(body, [2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5]) % 11) % 10}"
    if country == "PL":
        body = f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{r(4)}"
        return body + str((10 - _weighted(body, [1, 3, 7, 9, 1, 3, 7, 9, 1, 3]) % 10) % 10)
    raise ValueError(country)


def isbn13(rng: random.Random) -> str:
    body = "978" + "".join(rng.choice(string.digits) for _ in range(9))
    check = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return f"{body[:3]}-{body[3]}-{body[4:7]}-{body[7:12]}-{check}"


LOOKALIKES: List[Callable[[random.Random], str]] = [
    lambda g: f"Version {g.randint(1, 9)}.{g.randint(0, 20)}.{g.randint(0, 99)}.{g.randint(0, 999)} is out.",
    lambda g: f"v{g.randint(1, 4)}.{g.randint(0, 9)}.{g.randint(0, 30)}",
    lambda g: f"{g.randint(2000, 2024)}-{g.randint(1, 12):02d}-{g.randint(1, 28):02d}",
    lambda g: f"{g.randint(1, 28):02d}.{g.randint(1, 12):02d}.{g.randint(1990, 2024)}",
    lambda g: f"{g.randint(0, 23):02d}:{g.randint(0, 59):02d}:{g.randint(0, 59):02d}",
    lambda g: f"{g.randint(1, 999)}.{g.randint(100, 999)},{g.randint(10, 99)} €",
    lambda g: f"${g.randint(1, 99)},{g.randint(100, 999)}.{g.randint(10, 99)}",
    lambda g: f"ISBN {isbn13(g)}",
    lambda g: f"card {card(g, valid=False)}",
    lambda g: f"IBAN {iban(g, valid=False)}",
    lambda g: f"order no. {g.randint(10 ** 7, 10 ** 8)}",
    lambda g: f"{g.randint(10000, 99999)} {g.choice(['Berlin', 'Lyon', 'Madrid'])}",
    lambda g: f"{g.randint(1000, 9999)}–{g.randint(1000, 9999)}",
    lambda g: f"{g.randint(1, 99)}.{g.randint(100000, 999999)}° N",
]


def native_digits(text: str, lang: str, rng: random.Random) -> str:
    """The text in the script's own digits (same length: gold offsets stay valid), for a share of draws."""
    digits = HELD_OUT.get(lang, {}).get("digits")
    if digits and rng.random() < NATIVE_DIGIT_SHARE:
        return text.translate(str.maketrans(string.digits, digits))
    return text


def local_lookalike(rng: random.Random, lang: str) -> str:
    """A non-PII number with the language's own context word or format."""
    h, r = HELD_OUT[lang], rng.randint
    forms = [lambda: f"{h['version']} {r(1, 9)}.{r(0, 20)}.{r(0, 99)}.{r(0, 999)}",
             lambda: f"{h['order']} {r(10 ** 7, 10 ** 8)}",
             lambda: f"{h['invoice']} {r(2015, 2025)}/{r(1, 999999):06d}",
             lambda: h["price"].format(a=r(1, 99), b=r(0, 999), b2=r(0, 99), c=r(0, 99)),
             lambda: h["date"].format(d=r(1, 28), m=r(1, 12), y=r(1990, 2025)),
             lambda: h["postcode"].format(p=r(1000, 9999999 if "07d" in h["postcode"] else 9999), p3=r(100, 999),
                                          p2=r(10, 99)) + " " + rng.choice(h["cities"])]
    return native_digits(rng.choice(forms)(), lang, rng)


def lookalike(rng: random.Random, lang: str) -> str:
    if lang in HELD_OUT and rng.random() < 0.5:
        return local_lookalike(rng, lang)
    return rng.choice(LOOKALIKES)(rng)


def filler(rng: random.Random, lang: str) -> str:
    if lang in HELD_OUT:
        return rng.choice(HELD_OUT[lang]["sentences"])
    return fill_slots(rng.choice(BANK[lang]["sentences"]), lang, rng)


def template(rng: random.Random, lang: str, kind: str) -> str:
    if lang not in HELD_OUT:
        return rng.choice(TEMPLATES[lang])
    h = HELD_OUT[lang]
    return rng.choice(h["templates"] + [h["labels"][kind] + ": {v}"])


def value_for(kind: str, rng: random.Random, lang: str) -> str:
    if kind == "EMAIL":
        return email(rng)
    if kind == "PHONE":
        return native_digits(phone(rng, lang), lang, rng)
    if kind == "IP_ADDRESS":
        return ip(rng)
    if kind == "IBAN":
        return iban(rng, countries=HELD_OUT.get(lang, {}).get("iban_countries"))
    if kind == "CREDIT_CARD":
        return card(rng)
    return national_id(rng, rng.choice(ID_COUNTRY.get(lang, ["US", "GB", "ES", "IT", "PL"])))


def make_set(seed: int = SEED) -> List[dict]:
    """Documents {text, language, spans: [[start, end, kind]]}: a filler sentence, 1-3 PII, 1-2 look-alikes."""
    rng = random.Random(seed)
    docs = []
    for lang in LANGUAGES:
        sep = "" if lang in ("zho_Hans", "jpn_Jpan") else " "
        for _ in range(DOCS_PER_LANG):
            parts: List[Tuple[str, str]] = [(filler(rng, lang), "")]
            kinds = rng.sample(KINDS, k=rng.randint(1, 3))
            parts += [("pii", k) for k in kinds]
            parts += [(lookalike(rng, lang), "") for _ in range(rng.randint(1, 2))]
            rng.shuffle(parts)
            text, spans = "", []
            for content, kind in parts:
                if text:
                    text += sep
                if kind:
                    value = value_for(kind, rng, lang)
                    before, after = template(rng, lang, kind).split("{v}")
                    start = len(text) + len(before)
                    text += before + value + after
                    spans.append([start, start + len(value), kind])
                else:
                    text += content
            docs.append({"text": text, "language": lang, "spans": spans})
    return docs


# ---------------------------------------------------------------------------------------
# scoring

def score(docs: List[dict], find: Callable[[str, str], List[Span]], kinds=KINDS) -> Dict[str, dict]:
    tp, fp, fn = Counter(), Counter(), Counter()
    per_lang = defaultdict(Counter)
    for d in docs:
        gold = [g for g in d["spans"] if g[2] in kinds]
        found = [s for s in find(d["text"], d["language"]) if s.kind in kinds]
        hit = lambda s, g: s.kind == g[2] and s.start < g[1] and g[0] < s.end  # noqa: E731
        for g in gold:
            ok = any(hit(s, g) for s in found)
            (tp if ok else fn)[g[2]] += 1
            per_lang[d["language"]]["tp" if ok else "fn"] += 1
        for s in found:
            if not any(hit(s, g) for g in gold):
                fp[s.kind] += 1
                per_lang[d["language"]]["fp"] += 1
    out = {}
    for k in list(kinds) + ["all"]:
        t = sum(tp.values()) if k == "all" else tp[k]
        p_ = sum(fp.values()) if k == "all" else fp[k]
        n_ = sum(fn.values()) if k == "all" else fn[k]
        out[k] = {"gold": t + n_, "tp": t, "fp": p_, "fn": n_, "precision": round(t / (t + p_), 4) if t + p_ else None,
                  "recall": round(t / (t + n_), 4) if t + n_ else None}
    out["per_language_recall"] = {lang: round(c["tp"] / (c["tp"] + c["fn"]), 4) for lang, c in sorted(per_lang.items())}
    return out


def datatrove_find():
    """datatrove's PIIFormatter patterns as a span finder (all IPs, as our detector counts them)."""
    from datatrove.pipeline.formatters.pii import PIIFormatter, public_ip_validator
    fmt = PIIFormatter(only_remove_public_ips=False)

    def find(text: str, language: str) -> List[Span]:
        spans = [Span(m.start(), m.end(), "EMAIL") for m in fmt.emails_replacer.regex.finditer(text)]
        spans += [Span(m.start(), m.end(), "IP_ADDRESS") for m in fmt.ip_replacer.regex.finditer(text)
                  if public_ip_validator(m.group(0), public_only=False)]
        return spans
    return find


def speed(texts: List[str], languages: List[str], find) -> dict:
    mb = sum(len(t.encode()) for t in texts) / 1e6
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for t, lang in zip(texts, languages):
        find(t, lang)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return {"mb": round(mb, 3), "cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "mb_per_s_per_core": round(mb / cpu, 3)}


def real_text(limit_mb: float = 4.0) -> Tuple[List[str], List[str]]:
    path = REPO.parent / "shared" / "data" / "corpus" / "ud_docs.jsonl"
    texts, langs, size = [], [], 0
    if path.exists():
        with open(path, encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                texts.append(d["text"])
                langs.append(d.get("lang_script", ""))
                size += len(d["text"].encode())
                if size > limit_mb * 1e6:
                    break
    return texts, langs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", type=Path, help="also write the labelled set as JSONL")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "pii_eval.json")
    args = ap.parse_args()
    import yaml
    docs = make_set()
    if args.write:
        args.write.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    regions = yaml.safe_load((REPO / "configs" / "pii" / "phone_regions.yaml").read_text())
    ours = PiiDetector(regions=regions).find
    # the phone regions as they were before the held-out languages got theirs (they fall back to _default)
    ours_old_regions = PiiDetector(regions={k: v for k, v in regions.items()
                                            if k not in {lang.split("_")[0] for lang in HELD_OUT}}).find
    baseline = datatrove_find()
    gold = Counter(g[2] for d in docs for g in d["spans"])
    held_out = [d for d in docs if d["language"] in HELD_OUT]
    held_out_17 = [d for d in make_set(SEED + 1) if d["language"] in HELD_OUT]
    result = {
        "set": {"documents": len(docs), "positives": sum(gold.values()), "per_kind": dict(gold),
                "languages": len(LANGUAGES), "scripts": len({lang.split("_")[1] for lang in LANGUAGES}),
                "held_out_languages": list(HELD_OUT), "held_out_documents": len(held_out),
                "held_out_positives": sum(len(d["spans"]) for d in held_out),
                "lookalikes_per_doc": "1-2", "seed": SEED},
        "xcurate": score(docs, ours),
        # languages and scripts the detector was never tuned on, with their own context words and look-alikes
        "xcurate_held_out_scripts": score(held_out, ours),
        "xcurate_held_out_scripts_seed_17": score(held_out_17, ours),
        "xcurate_held_out_scripts_without_their_phone_regions": score(held_out, ours_old_regions),
        "xcurate_tuned_languages": score([d for d in docs if d["language"] not in HELD_OUT], ours),
        "datatrove_PIIFormatter": score(docs, baseline, kinds=("EMAIL", "IP_ADDRESS")),
        "xcurate_on_datatrove_kinds": score(docs, ours, kinds=("EMAIL", "IP_ADDRESS")),
        # The patterns were tuned on the false positives of seed 16; another seed draws other values
        # and look-alikes from the same generators (in-distribution: no substitute for real labelled web text).
        "xcurate_seed_17": score(make_set(SEED + 1), ours),
    }
    texts, langs = [d["text"] for d in docs] * 20, [d["language"] for d in docs] * 20
    result["speed_labelled_set"] = {"xcurate": speed(texts, langs, ours), "datatrove_PIIFormatter": speed(texts, langs, baseline)}
    real, real_langs = real_text()
    if real:
        result["speed_real_text_ud_docs"] = {"xcurate": speed(real, real_langs, ours),
                                             "datatrove_PIIFormatter": speed(real, real_langs, baseline)}
    result["note"] = ("in-distribution for the 14 tuned languages: values, templates and look-alikes come from the "
                      "generators above, and the detector's context rules were tuned on their false positives (seed 16); "
                      "the held-out languages (own scripts, templates, context words, local look-alikes) were added "
                      "afterwards and measured before changing the detector (only phone_regions.yaml got their regions): "
                      "that first held-out run (seed 16) found a general bug, a card or +CC phone number followed by a "
                      "space and another number was lost in one run of digits (all P 0.9746 R 0.9788, CREDIT_CARD R "
                      "0.9506, PHONE P 0.9438 R 0.9333); the figures here are after that fix; the held-out false "
                      "positives left all follow a context word the detector only knows in English (version, order "
                      "number, invoice); "
                      "single process; CPU seconds (time.process_time) because the 2-core machine was shared with other "
                      "jobs while this ran; span matches = overlap with a gold span of the same kind")
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    for k in list(KINDS) + ["all"]:
        r = result["xcurate"][k]
        print(f"{k:12s} gold {r['gold']:4d}  precision {r['precision']}  recall {r['recall']}")
    for k in list(KINDS) + ["all"]:
        r = result["xcurate_held_out_scripts"][k]
        print(f"held-out {k:12s} gold {r['gold']:4d}  precision {r['precision']}  recall {r['recall']}")
    dt = result["datatrove_PIIFormatter"]["all"]
    print(f"datatrove PIIFormatter (EMAIL+IP): precision {dt['precision']} recall {dt['recall']}; "
          f"xcurate on the same kinds: {result['xcurate_on_datatrove_kinds']['all']}")
    for name, block in result.items():
        if name.startswith("speed"):
            ours_s, base_s = block["xcurate"], block["datatrove_PIIFormatter"]
            print(f"{name}: xcurate {ours_s['mb_per_s_per_core']} MB/s/core, datatrove {base_s['mb_per_s_per_core']} "
                  f"MB/s/core (ratio {ours_s['mb_per_s_per_core'] / base_s['mb_per_s_per_core']:.2f}; datatrove finds 2 kinds)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
