"""Hand-written content of the demo world: people, files and private chats (groups: ``demo_data_groups``).

Everyone here is fictional. Conversations are tables of sessions; a session starts ``days`` and
``hours`` before "now" and its lines follow each other a few minutes apart. A line is
``(speaker, text)`` or ``(speaker, text, options)``; the speaker is a person key or ``"me"`` (the
demo account). Options:

- ``id``: a label other lines (and tests, via ``DemoWorld.messages``) refer to;
- ``reply``: a label, or a negative index counting back from this line within the conversation;
- ``photo`` / ``file`` / ``voice``: attach a picture (``demo_media.PICTURES``), a document or a voice note;
- ``edit``: the message was edited this many minutes after it was sent;
- ``react``: ``{emoji: [speakers]}``;
- ``pin``: the message is pinned in its chat;
- ``gap``: minutes since the previous line (instead of a few random minutes).

The tables are laid out by hand (``fmt: off``) so each message stays on one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Opts = dict[str, Any]
Line = tuple[str, str] | tuple[str, str, Opts]
#: ``(days ago, hours ago, lines)``
Session = tuple[int, int, list[Line]]

MAIN_PHONE = "9996610000"  # a test-DC number: its login code is always 11111
MAIN_CODE = "11111"
#: The demo person whose account has two-step verification, its password and the password's hint.
TWO_FA_PERSON = "sam"
TWO_FA_PASSWORD = "lighthouse-keeper"  # noqa: S105 - documented, for the demo only
TWO_FA_HINT = "where Sam works, and what Sam is there"


@dataclass(frozen=True)
class Person:
    key: str
    first_name: str
    last_name: str = ""
    username: str | None = None
    about: str = ""
    #: How the demo account saved this person, if not under their own name.
    saved_as: tuple[str, str] | None = None
    contact: bool = True
    avatar: str | None = None
    #: Hours since the person was last online.
    seen_hours_ago: int = 2


@dataclass(frozen=True)
class Document:
    name: str
    mime_type: str
    text: str = ""
    #: For a PDF: ``(title, lines)`` rendered on one page.
    pdf: tuple[str, list[str]] | None = None


@dataclass(frozen=True)
class Voice:
    duration: int
    transcription: str


@dataclass(frozen=True)
class Conversation:
    """A private chat between the demo account and ``peer`` (``"me"``: Saved Messages)."""

    peer: str
    sessions: list[Session]
    #: Trailing incoming messages the demo account has not read yet.
    unread: int = 0
    #: Whether ``peer`` has read everything the demo account sent.
    seen: bool = True
    #: Folders (``"work"``, ``"friends"``) the chat is in.
    tags: list[str] = field(default_factory=list)


MAIN = Person("me", "Dana", "Demo", username="demo_dana", about="Trying out mcpgram 👋")

# fmt: off
PEOPLE: list[Person] = [
    Person("alex", "Alex", "Carter", "alex_trails", "Weekend hiker, weekday engineer", avatar="avatar_teal"),
    Person("maria", "Мария", "Иванова", "masha_iv", "Книги, кофе, горы ☕", avatar="avatar_coral"),
    Person("sam", "Sam", "Patel", "sam_builds", "Team lead at Lighthouse", seen_hours_ago=1),
    Person("dmitry", "Дмитрий", "Соколов", "dsokolov", seen_hours_ago=5),
    Person("mom", "Елена", "Демина", saved_as=("Мама", ""), seen_hours_ago=3),
    Person("misha", "Миша", "Демин", "misha_d", seen_hours_ago=20),
    Person("priya", "Priya", "Shah", about="Product designer"),
    Person("tom", "Tom", "Becker", seen_hours_ago=7),
    Person("katya", "Катя", "Смирнова", "katya_sm", avatar="avatar_indigo"),
    Person("jordan", "Jordan", "Lee", "jlee_climbs", "Rock climbing and bad puns", seen_hours_ago=30),
    Person("igor", "Игорь", "Волков", contact=False, seen_hours_ago=48),
    Person("emma", "Emma", "Brooks", "emma_editor", "Editor of Demo News", contact=False),
]

DOCUMENTS: dict[str, Document] = {
    "q3_report": Document("q3_report_draft.pdf", "application/pdf", pdf=("Q3 Report (draft)", [
        "Lighthouse Team - quarterly summary",
        "",
        "Active users: 12,400 (+8% quarter over quarter)",
        "Onboarding completion: 71% (goal: 75%)",
        "Median support response: 3 h 10 min",
        "",
        "Highlights: new dashboard, CSV export, faster search.",
        "Next quarter: mobile redesign, team folders, offline mode.",
    ])),
    "budget_csv": Document("conference_budget.csv", "text/csv", text=(
        "item,category,amount_eur,paid\n"
        "Harbor Hall room B,venue,1200,yes\n"
        "Hotel (3 nights x 4),travel,1680,no\n"
        "Train tickets,travel,320,yes\n"
        "Coffee and lunch,food,540,no\n"
        "Printed badges,misc,60,yes\n"
    )),
    "syrniki": Document("сырники_рецепт.txt", "text/plain", text=(
        "Сырники (на 2 порции)\n\n"
        "- творог 5%: 400 г\n- яйцо: 1 шт.\n- сахар: 2 ст. л.\n- мука: 3 ст. л. + для обваливания\n"
        "- щепотка соли, ванильный сахар по вкусу\n\n"
        "Смешать творог, яйцо, сахар и соль. Добавить муку: тесто должно остаться мягким.\n"
        "Сформировать сырники, обвалять в муке и жарить на среднем огне по 3 минуты с каждой стороны.\n"
        "Подавать со сметаной или вареньем.\n"
    )),
    "packing_list": Document("packing_list.txt", "text/plain", text=(
        "Packing list - mountain trip\n\n"
        "[ ] hiking boots\n[ ] rain jacket\n[ ] warm fleece\n[ ] headlamp + batteries\n"
        "[ ] water bottle (1.5 l)\n[ ] sunscreen\n[ ] first aid kit\n[ ] swimsuit (thermal baths!)\n"
        "[ ] charger and power bank\n[ ] snacks for the trail\n"
    )),
}

VOICES: dict[str, Voice] = {
    "maria_voice": Voice(9, "Привет, Дана! Я уже выхожу, но автобус задерживается, так что буду минут "
                            "через пятнадцать. Займи, пожалуйста, столик у окна."),
}

WELCOME = (
    "Welcome to the mcpgram sandbox! 👋\n\n"
    "This is a demo account: every person, chat and message here is made up and lives only in the "
    "memory of a local test server. Feel free to read, send, edit and delete anything."
)

PRIVATE_CHATS: list[Conversation] = [
    Conversation("alex", tags=["friends"], sessions=[
        (27, 5, [
            ("alex", "Hey Dana! Are you in for the ridge trail on Saturday?"),
            ("me", "Definitely! What time are we meeting?"),
            ("alex", "8:00 at the north parking lot. It's about 14 km, so bring enough water",
             {"id": "alex_plan"}),
            ("me", "Got it. Should I bring the small stove for coffee at the top?"),
            ("alex", "Yes please ☕ I'll bring sandwiches"),
            ("me", "Deal 👍", {"react": {"❤": ["alex"]}}),
        ]),
        (23, 2, [
            ("alex", "What a day! Here's the view from the summit",
             {"photo": "sunset", "id": "alex_sunset", "react": {"🔥": ["me"]}}),
            ("me", "Wow, that sunset is unreal"),
            ("me", "My legs are still complaining though 😅"),
            ("alex", "Ha, same. Worth every step"),
        ]),
        (6, 4, [
            ("alex", "Did you end up ordering those new boots?"),
            ("me", "Not yet, still comparing two pairs. Any advice?"),
            ("alex", "Go for the one with the wider toe box. Your feet will thank you on the descents",
             {"reply": -1}),
            ("me", "Good point, ordering the wider ones tonight", {"edit": 3}),
        ]),
    ]),
    Conversation("maria", unread=2, tags=["friends"], sessions=[
        (25, 7, [
            ("maria", "Привет! Ты дочитала ту книгу, которую я тебе дала?"),
            ("me", "Привет! Почти, осталось глав пять. Только концовку не рассказывай!"),
            ("maria", "Не буду 🤐 Но готовься, там неожиданный поворот"),
            ("me", "Вот теперь мне ещё интереснее"),
        ]),
        (12, 3, [
            ("maria", "Пойдём в субботу в кофейню на набережной? Там новый десерт с малиной",
             {"id": "maria_coffee"}),
            ("me", "С удовольствием! Во сколько?"),
            ("maria", "Давай в 11?"),
            ("me", "Договорились ☕", {"react": {"❤": ["maria"]}}),
        ]),
        (1, 3, [
            ("maria", "", {"voice": "maria_voice", "id": "maria_voice"}),
            ("maria", "Если коротко: опоздаю минут на пятнадцать, извини!"),
        ]),
    ]),
    Conversation("sam", tags=["work"], sessions=[
        (20, 6, [
            ("sam", "Morning! Did you get a chance to look at my pull request?"),
            ("me", "Looking at it now. The retry logic looks good, I left two small comments"),
            ("sam", "Thanks, fixing them right away"),
            ("sam", "Reminder: standup moves to 10:30 starting next week",
             {"pin": True, "id": "sam_standup", "gap": 95}),
            ("me", "Noted, thanks"),
        ]),
        (9, 5, [
            ("sam", "Here's the Q3 report draft for Thursday", {"file": "q3_report", "id": "q3_report"}),
            ("me", "Great, I'll read it before lunch"),
            ("me", "Page 1: the onboarding number looks off. Is that the old export?",
             {"gap": 70, "edit": 2}),
            ("sam", "Good catch, I'll regenerate it", {"reply": -1}),
        ]),
        (0, 5, [
            ("sam", "Are you joining the demo call at 3?"),
            ("me", "Yes, I'll be there"),
        ]),
    ]),
    Conversation("dmitry", tags=["work"], sessions=[
        (18, 4, [
            ("dmitry", "Дана, привет! Скинул таблицу с бюджетом на конференцию",
             {"file": "budget_csv", "id": "budget_csv"}),
            ("me", "Спасибо! Посмотрю сегодня"),
            ("me", "Дима, а почему гостиница дороже, чем в прошлом году?", {"gap": 40}),
            ("dmitry", "Цены выросли, плюс мы берём на одну ночь больше", {"reply": -1}),
            ("me", "Понятно, тогда всё ок 👍"),
        ]),
        (4, 6, [
            ("dmitry", "Quick one in English for the team doc: can you confirm the venue name?"),
            ("me", "Harbor Hall, room B"),
            ("dmitry", "Perfect, thanks!", {"react": {"👍": ["me"]}}),
        ]),
    ]),
    Conversation("mom", unread=1, sessions=[
        (28, 9, [
            ("mom", "Доченька, как ты? Позвони, когда будет минутка"),
            ("me", "Привет, мам! Всё хорошо, вечером позвоню"),
            ("mom", "Хорошо, целую ❤️"),
        ]),
        (15, 8, [
            ("mom", "Посмотри, какие цветы распустились на даче!", {"photo": "garden", "id": "mom_garden"}),
            ("me", "Какая красота! Это те, что мы сажали весной?"),
            ("mom", "Да, они самые 🌸", {"reply": -1}),
        ]),
        (0, 9, [
            ("mom", "Не забудь тепло одеться, обещают похолодание"),
        ]),
    ]),
    Conversation("misha", sessions=[
        (10, 3, [
            ("misha", "Слушай, что дарим маме на день рождения?"),
            ("me", "Я думала про новый чайный сервиз, старый уже весь в сколах"),
            ("misha", "Хорошая идея. Скинемся пополам?"),
            ("me", "Давай! Я закажу, а ты переведёшь половину", {"id": "misha_gift"}),
            ("misha", "Договорились 🤝", {"react": {"👍": ["me"]}}),
        ]),
        (8, 2, [
            ("misha", "Сервиз пришёл?"),
            ("me", "Да, вчера. Очень красивый, маме понравится"),
            ("misha", "Отлично 🎉"),
        ]),
    ]),
    Conversation("tom", unread=3, tags=["friends"], sessions=[
        (21, 4, [
            ("tom", "I got two tickets for the jazz night on the 14th. Want to come?"),
            ("me", "Yes!! Who's playing?"),
            ("tom", "A local quartet, they were amazing last year"),
            ("me", "Count me in 🎷", {"react": {"🎉": ["tom"]}}),
        ]),
        (2, 6, [
            ("tom", "Doors open at 7:30, the show starts at 8"),
            ("tom", "I'll wait by the box office", {"edit": 5}),
            ("tom", "Also, dinner before? There's a new ramen place next door", {"gap": 25}),
        ]),
    ]),
    Conversation("katya", tags=["friends"], seen=False, sessions=[
        (16, 2, [
            ("katya", "Дана, ты просила рецепт сырников — держи!", {"file": "syrniki", "id": "syrniki"}),
            ("me", "Ура, спасибо! Испеку в выходные"),
            ("katya", "Главное — не добавляй много муки, тогда они будут нежными"),
        ]),
        (13, 1, [
            ("me", "Испекла! Получилось очень вкусно 😋", {"react": {"😁": ["katya"]}}),
            ("katya", "Я же говорила! 😄"),
        ]),
        (0, 1, [
            ("me", "Катя, ты в пятницу с нами в поход?"),
        ]),
    ]),
    Conversation("priya", tags=["work"], sessions=[
        (8, 5, [
            ("priya", "Hi Dana, here's the first mockup of the new dashboard",
             {"photo": "mockup", "id": "mockup"}),
            ("me", "Looks clean! Could the cards be a little wider on desktop?"),
            ("priya", "Sure, I'll try a 3-column layout with more padding", {"reply": -1}),
            ("me", "Perfect, thank you!", {"react": {"❤": ["priya"]}}),
        ]),
    ]),
    Conversation("jordan", tags=["friends"], sessions=[
        (19, 7, [
            ("jordan", "Hi! Alex added me to the hiking club. Do you have a spare trekking pole?"),
            ("me", "Welcome! Yes, I have an extra pair, I'll bring them on Saturday"),
            ("jordan", "You're a lifesaver 🙏"),
        ]),
    ]),
    Conversation("me", sessions=[
        (26, 1, [("me", "Ideas for the team offsite: kayaking, cooking class, escape room")]),
        (5, 1, [("me", "Packing list for the trip", {"file": "packing_list", "id": "packing_list"})]),
    ]),
]
# fmt: on
