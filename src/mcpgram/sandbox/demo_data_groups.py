"""Hand-written content of the demo world's groups, forum and channel (see ``demo_data`` for the format).

Everyone here is fictional. A group's first session also dates its creation; forum topics are
created by a service message whose id becomes the topic id; channel posts may carry a comment
thread, held by the channel's linked discussion group.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .demo_data import Line, Opts, Session


@dataclass(frozen=True)
class Group:
    key: str
    title: str
    kind: Literal["chat", "supergroup"]
    creator: str
    members: list[str]
    sessions: list[Session]
    username: str | None = None
    about: str = ""
    forum: bool = False
    #: Trailing messages from others the demo account has not read yet.
    unread: int = 0
    pinned_dialog: bool = False
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Topic:
    title: str
    icon_color: int
    days: int
    hours: int
    creator: str
    lines: list[Line]


@dataclass(frozen=True)
class Post:
    days: int
    hours: int
    text: str
    opts: Opts = field(default_factory=dict)
    comments: list[Line] = field(default_factory=list)


NEWS_TITLE = "Demo News"
NEWS_USERNAME = "demo_news"
NEWS_ABOUT = "Fictional daily news from the mcpgram sandbox. Nothing here is real."
NEWS_CREATOR = "emma"
NEWS_SUBSCRIBERS = ["me", "alex", "maria", "sam", "dmitry", "tom", "katya", "priya", "jordan", "igor"]
NEWS_CHAT_TITLE = "Demo News Chat"
#: Posts the demo account has not read yet (the newest ones).
NEWS_UNREAD = 3

# fmt: off
FAMILY = Group("family", "Family 🏡", "chat", "misha", ["mom", "me"], unread=2, pinned_dialog=True, sessions=[
    (29, 6, [
        ("misha", "Создал чат, чтобы не терять семейные новости 🙂"),
        ("mom", "Как удобно! Спасибо, сынок"),
        ("me", "Отличная идея"),
    ]),
    (17, 5, [
        ("mom", "В воскресенье в 14:00 обед у нас. Жду всех!", {"pin": True, "id": "family_dinner"}),
        ("misha", "Буду 👍"),
        ("me", "Я привезу пирог", {"react": {"❤": ["mom"]}}),
    ]),
    (7, 4, [
        ("mom", "Спасибо за чудесный праздник, мои дорогие!", {"photo": "cake", "id": "family_cake"}),
        ("misha", "С днём рождения ещё раз, мам! 🎉"),
        ("me", "Люблю тебя, мам ❤️", {"react": {"❤": ["mom", "misha"]}}),
        ("mom", "Сервиз просто чудесный, буду пить из него чай каждый день"),
    ]),
    (1, 6, [
        ("misha", "Кто-нибудь знает, где ключи от гаража?"),
        ("mom", "На крючке в прихожей, как всегда 😄", {"reply": -1}),
    ]),
])

HIKING = Group(
    "hiking", "Hiking Club ⛰", "supergroup", "alex", ["me", "maria", "jordan", "igor", "tom", "katya"],
    username="hiking_club_demo", about="Weekend hikes around the city. Everyone is welcome!", unread=2,
    pinned_dialog=True, tags=["friends"], sessions=[
        (29, 3, [("alex", "Welcome to the Hiking Club! Plans, photos and gear talk go here 🥾")]),
        (27, 1, [
            ("alex", "Saturday: ridge trail, 14 km, meet at 8:00 at the north parking lot",
             {"pin": True, "id": "hike_plan"}),
            ("igor", "Я в деле! Возьму термос с чаем"),
            ("maria", "I'll join too 🙌"),
            ("katya", "Сколько там набор высоты?", {"reply": "hike_plan"}),
            ("alex", "Around 650 m. Steady but not too steep", {"reply": -1}),
        ]),
        (23, 1, [
            ("me", "Thanks everyone for a great hike!",
             {"photo": "trail", "id": "hike_photo",
              "react": {"🔥": ["alex", "maria", "igor"], "❤": ["katya"]}}),
            ("tom", "Sorry I missed it, next time for sure"),
            ("jordan", "Great photo! Where exactly was that?"),
            ("alex", "Just past the second viewpoint, about 9 km in", {"reply": -1}),
        ]),
        (11, 4, [
            ("maria", "Кто-нибудь хочет в следующие выходные к озеру? Маршрут лёгкий, 8 км"),
            ("jordan", "I'm in if it doesn't rain"),
            ("igor", "Прогноз хороший, солнце все выходные ☀️"),
            ("me", "Count me in!"),
        ]),
        (9, 2, [
            ("maria", "Озеро было великолепно 😍 Спасибо всем!", {"react": {"❤": ["me", "katya", "jordan"]}}),
            ("katya", "Хочу туда снова!"),
        ]),
        (0, 3, [
            ("alex", "Gear check for the autumn season: headlamps, rain jackets, warm layers"),
            ("tom", "Does anyone have a spare headlamp I could borrow?"),
        ]),
    ],
)

WORK = Group(
    "work", "Lighthouse Team", "supergroup", "sam", ["me", "dmitry", "priya"],
    about="Product team chat. Standup at 10:30.", unread=1, tags=["work"], sessions=[
        (28, 7, [
            ("sam", "Sprint 14 kicks off today. The board is updated, please grab your tickets"),
            ("priya", "Taking the dashboard redesign"),
            ("dmitry", "I'll take the export bug and the CSV import"),
            ("me", "I'll handle the onboarding emails"),
        ]),
        (24, 6, [
            ("sam", "Team rules: standup at 10:30, reviews within one working day, demo every other Thursday",
             {"pin": True, "id": "work_rules"}),
            ("priya", "👍"),
        ]),
        (16, 5, [
            ("dmitry", "The export bug is fixed: it was a timezone issue in the date filter"),
            ("sam", "Nice work! Can you add a test for it?", {"reply": -1}),
            ("dmitry", "Already did 😎", {"react": {"🔥": ["sam", "me"]}}),
        ]),
        (9, 6, [
            ("priya", "Updated mockups with the wider cards are in the design folder, feedback welcome"),
            ("me", "Looks great, ship it!"),
            ("sam", "Agreed. Let's include it in Thursday's demo"),
        ]),
        (2, 5, [
            ("sam", "Retro tomorrow at 16:00. Please add your notes to the board before that"),
            ("dmitry", "Done", {"gap": 50}),
            ("priya", "Added mine too"),
        ]),
        (0, 2, [
            ("dmitry", "Heads up: staging will be down for 20 minutes at 17:00 for the database upgrade",
             {"react": {"👍": ["sam", "priya"]}}),
        ]),
    ],
)

FORUM = Group(
    "forum", "Autumn Trip 🍁", "supergroup", "katya", ["me", "alex", "maria", "tom"], forum=True,
    about="Planning our long weekend in the mountains", tags=["friends"], sessions=[
        (22, 4, [("katya", "Сделала темы, чтобы не утонуть в сообщениях 🙂 Пишите в нужную")]),
    ],
)

FORUM_TOPICS: list[Topic] = [
    Topic("✈️ Flights", 0x6FB9F0, 22, 3, "katya", [
        ("alex", "Found a direct flight on Friday at 18:40, back on Monday morning"),
        ("maria", "Подходит! Сколько стоит?"),
        ("alex", "About 140 per person with a cabin bag", {"reply": -1}),
        ("tom", "Booked mine ✅", {"react": {"🎉": ["katya", "alex"]}}),
    ]),
    Topic("🏠 Accommodation", 0xFFD67E, 21, 6, "katya", [
        ("katya", "Нашла домик у озера: камин, сауна и вид на горы", {"id": "forum_house"}),
        ("me", "Looks cozy! Is there room for Tom too?"),
        ("katya", "Есть диван-кровать, поместимся все пятеро", {"reply": -1}),
        ("maria", "Бронируем! 🏡", {"react": {"❤": ["katya", "me"]}}),
    ]),
    Topic("🗺 Itinerary", 0x8EEE98, 20, 2, "maria", [
        ("maria", "День 1: заселение и прогулка вокруг озера"),
        ("alex", "Day 2: summit hike, start early at 7:00"),
        ("tom", "Day 3: a lazy morning, then the thermal baths?"),
        ("me", "Love it. Day 4: breakfast and the flight home", {"pin": True, "id": "forum_plan"}),
    ]),
    Topic("💰 Budget", 0xFF93B2, 19, 5, "me", [
        ("me", "I'll track shared costs here. So far: house 480, car rental 150", {"edit": 4}),
        ("katya", "Я перевела свою часть за домик"),
        ("tom", "Sent mine too"),
        ("me", "Thanks! Everyone has paid for the house now ✅", {"react": {"👏": ["alex", "maria"]}}),
    ]),
]

NEWS_POSTS: list[Post] = [
    Post(30, 2, "👋 Welcome to Demo News! Every day we share news from a city that exists only in this "
                "sandbox. Nothing here is real — enjoy.", {"pin": True, "id": "news_welcome"}),
    Post(29, 4, "Weather: sunny and 22°C today, with a light breeze from the sea in the afternoon."),
    Post(28, 5, "Городская библиотека продлевает часы работы: теперь она открыта до 22:00 по будням."),
    Post(27, 3, "The riverside bike lane is finally complete: 12 km from the old port to the botanical "
                "garden 🚲", {"id": "news_bike", "react": {"👍": ["alex", "dmitry", "tom"], "🔥": ["me"]}}, [
        ("alex", "Tried it this morning, super smooth!"),
        ("dmitry", "Наконец-то! Буду ездить на работу на велосипеде"),
        ("me", "Is it lit at night?", {"id": "news_bike_q"}),
        ("sam", "Yes, with solar lamps the whole way", {"reply": "news_bike_q"}),
    ]),
    Post(26, 6, "Tech tip: turn on two-step verification in your messenger's privacy settings. It takes a "
                "minute and protects your account."),
    Post(25, 2, "Фермерский рынок на Центральной площади теперь работает по субботам и воскресеньям "
                "с 8 до 15."),
    Post(24, 4, "The local team won the regional volleyball cup 🏐 Congratulations!",
         {"react": {"🎉": ["tom", "jordan", "katya", "me"]}}),
    Post(23, 5, "Weather warning: heavy rain is expected tomorrow evening. Don't forget your umbrella ☔"),
    Post(22, 3, "В парке у реки открылась новая детская площадка с канатным городком."),
    Post(21, 6, "The open-air cinema season starts this Friday with a classic comedy. Entry is free 🍿",
         {"id": "news_cinema"}, [
        ("tom", "Who's going?"),
        ("katya", "Мы идём всей компанией!"),
        ("me", "We'll bring blankets", {"react": {"❤": ["tom"]}}),
    ]),
    Post(20, 2, "Poll results: 64% of our readers prefer tea in the morning. The other 36% are already on "
                "their second cup of coffee ☕"),
    Post(19, 5, "Городской марафон пройдёт в воскресенье. Часть улиц в центре будет перекрыта "
                "с 7 до 13 часов.",
         {"edit": 30}),
    Post(18, 4, "New bus route 42 connects the university campus with the railway station every 10 minutes."),
    Post(17, 3, "The science museum opens a hands-on robotics exhibition for kids and adults 🤖"),
    Post(16, 6, "Осенняя ярмарка ремёсел: керамика, вязаные вещи и мёд от местных пасечников. "
                "В эти выходные на набережной."),
    Post(15, 2, "The lakeside park reopens after renovation: new paths, benches and a boat rental.",
         {"photo": "lake", "id": "news_lake", "react": {"😍": ["maria", "jordan", "me"]}}, [
        ("maria", "Очень красиво стало!"),
        ("jordan", "Boat rental, finally 🚣"),
        ("me", "Going there this weekend"),
    ]),
    Post(14, 4, "Tech tip: back up your phone's photos before installing a system update."),
    Post(13, 5, "В субботу в филармонии — концерт джазового квартета. Билеты ещё есть."),
    Post(12, 3, "Weather: the first frost is expected overnight in the suburbs. Cover your plants 🌱"),
    Post(11, 6, "The city council approved 30 new public drinking fountains for next summer."),
    Post(10, 2, "Новая кофейня на набережной даёт студентам скидку 20% по будням ☕"),
    Post(9, 4, "Community clean-up day this Sunday at 10:00. Gloves and bags are provided.",
         {"id": "news_cleanup"}, [
        ("igor", "Буду с детьми"),
        ("priya", "Great initiative!"),
        ("katya", "А сколько нужно волонтёров?"),
    ]),
    Post(8, 3, "Library tip: you can now borrow board games for two weeks with your library card 🎲"),
    Post(7, 5, "Городской каток откроется раньше обычного — уже в начале декабря ⛸"),
    Post(6, 2, "The old lighthouse is open to visitors every Saturday this month. 120 steps to the top!"),
    Post(5, 4, "Weather: a sunny and crisp weekend ahead, perfect for a long walk."),
    Post(4, 3, "Фестиваль уличной еды в эти выходные: больше 40 участников и живая музыка."),
    Post(3, 5, "Tech tip: use chat folders to keep work and personal chats apart 📁",
         {"id": "news_folders"}, [
        ("sam", "Folders changed my life, not kidding"),
        ("me", "I have Work and Friends folders, works great"),
    ]),
    Post(1, 6, "Evening trains will run every 15 minutes during the festival weekend."),
    Post(0, 3, "Good morning! Today: 18°C, clouds in the afternoon. Have a great day ☀️"),
]
# fmt: on

GROUPS: list[Group] = [FAMILY, HIKING, WORK, FORUM]
