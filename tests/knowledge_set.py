"""A small Polish retrieval test set, written here so that tests and `make bench` build it
themselves: a user guide (a PDF, a section per page) and an admin guide (HTML, a section per
anchor), and 60 questions asked in other word forms than the sections use, 20 of them
damaged as a fax's OCR damages text (diacritics lost, one letter misread). Each question
names the section that answers it."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Section:
    key: str  # "user-guide#3" (page 3 of the user guide) or "admin-guide#kopie" (an anchor of the admin guide)
    title: str
    text: str


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    answer: str  # the Section.key that answers it
    ocr: bool


USER_GUIDE = "Podręcznik użytkownika"
ADMIN_GUIDE = "Podręcznik administratora"

USER: tuple[tuple[str, str], ...] = (
    ("Rejestrowanie wpłat", "Wpłatę podatnika rejestruje się w oknie Wpłaty. Należy wskazać kontrahenta, kwotę "
     "i datę wpłaty. Program rozksięgowuje wpłatę na najstarsze zaległości."),
    ("Zwrot nadpłaty", "Nadpłatę zwraca się poleceniem Zwroty. Przed zwrotem program zalicza nadpłatę na poczet "
     "zaległości podatnika. Przelew zwrotu trafia do paczki przelewów."),
    ("Naliczanie odsetek za zwłokę", "Odsetki za zwłokę nalicza się od dnia następującego po terminie płatności. "
     "Stawkę odsetek ustawia się w słowniku stawek."),
    ("Drukowanie upomnień", "Upomnienia drukuje się dla zaległości starszych niż wskazana liczba dni. Koszt "
     "upomnienia dopisuje się do konta podatnika."),
    ("Raty i odroczenie terminu", "Decyzję o rozłożeniu zaległości na raty wprowadza się w kartotece podatnika. "
     "Harmonogram rat można wydrukować i przekazać podatnikowi."),
    ("Korekta decyzji wymiarowej", "Korektę decyzji wymiarowej wystawia się z poziomu decyzji pierwotnej. "
     "Program przelicza należność i tworzy nowe terminy płatności."),
    ("Import wyciągów bankowych", "Wyciągi bankowe importuje się z pliku w formacie MT940 lub Elixir. "
     "Zaimportowane pozycje program dopasowuje do podatników po numerze rachunku."),
    ("Zmiana hasła i logowanie", "Hasło zmienia się w menu Użytkownik. Po trzech błędnych próbach logowania "
     "konto zostaje zablokowane na piętnaście minut."),
    ("Raporty i zestawienia", "Zestawienie obrotów i sald tworzy się za dowolny okres. Raport można zapisać "
     "w arkuszu kalkulacyjnym lub wydrukować."),
    ("Podpis elektroniczny", "Dokumenty podpisuje się certyfikatem kwalifikowanym. Certyfikat musi być ważny, "
     "a czytnik karty podłączony przed podpisaniem."),
)

ADMIN: tuple[tuple[str, str, str], ...] = (
    ("kopie", "Kopie zapasowe bazy danych", "Kopię zapasową bazy wykonuje się codziennie poleceniem backup. "
     "Kopie przechowuje się poza serwerem. Odtworzenie kopii wymaga zatrzymania usługi."),
    ("uprawnienia", "Uprawnienia użytkowników", "Administrator nadaje uprawnienia grupom użytkowników. "
     "Użytkownik dziedziczy uprawnienia wszystkich grup, do których należy."),
    ("aktualizacja", "Aktualizacja wersji programu", "Aktualizację instaluje się po wykonaniu kopii zapasowej. "
     "Instalator aktualizuje strukturę bazy i sprawdza wersję serwera."),
    ("drukarki", "Konfiguracja drukarek", "Drukarkę domyślną ustawia się dla każdego stanowiska. Wydruki "
     "kopert wymagają drukarki obsługującej podajnik ręczny."),
    ("licencja", "Licencja i klucz aktywacyjny", "Klucz licencyjny wprowadza się po instalacji. Licencja "
     "określa liczbę stanowisk i moduły, z których urząd może korzystać."),
    ("jpk", "Eksport plików JPK", "Pliki JPK generuje się za miesiąc lub kwartał. Przed wysłaniem plik "
     "podpisuje się i sprawdza jego zgodność ze schematem."),
    ("przeniesienie", "Przeniesienie bazy na nowy serwer", "Przeniesienie bazy wymaga wykonania kopii, "
     "instalacji serwera bazy danych i odtworzenia kopii na nowym komputerze."),
    ("archiwizacja", "Archiwizacja lat zamkniętych", "Lata zamknięte archiwizuje się do osobnej bazy. "
     "Dokumenty z archiwum można przeglądać, ale nie można ich zmieniać."),
    ("poczta", "Wysyłka poczty elektronicznej", "Serwer poczty wychodzącej ustawia się w parametrach systemu. "
     "Program wysyła powiadomienia podatnikom przez protokół SMTP z szyfrowaniem."),
    ("dziennik", "Dziennik zdarzeń", "Dziennik zdarzeń zapisuje logowania i zmiany danych. Administrator "
     "przegląda dziennik i eksportuje go dla audytora."),
)

# Two questions per section in other word forms; the first of each is also asked OCR-damaged.
ASKED: dict[str, tuple[str, str]] = {
    "user-guide#1": ("Jak zarejestrować wpłatę od podatnika?", "Gdzie wprowadzamy wpłaty podatników i jak są rozksięgowane?"),
    "user-guide#2": ("Jak zwrócić nadpłatę podatnikowi?", "Nadpłaty: kiedy program robi zwrot przelewem?"),
    "user-guide#3": ("Jak naliczyć odsetki za zwłokę w płatności?", "Skąd program bierze stawkę odsetek?"),
    "user-guide#4": ("Jak wydrukować upomnienie dla zaległości?", "Czy koszt upomnień dopisuje się do konta?"),
    "user-guide#5": ("Jak rozłożyć zaległość na raty?", "Gdzie wydrukować harmonogram rat dla podatnika?"),
    "user-guide#6": ("Jak skorygować decyzję wymiarową?", "Czy po korekcie decyzji zmienią się terminy płatności?"),
    "user-guide#7": ("Jak zaimportować wyciąg z banku?", "Plik MT940 z banku nie jest dopasowany do podatników"),
    "user-guide#8": ("Jak zmienić hasło użytkownika?", "Konto zablokowane po błędnym logowaniu, co robić?"),
    "user-guide#9": ("Jak utworzyć zestawienie sald za okres?", "Czy raport obrotów można zapisać w arkuszu?"),
    "user-guide#10": ("Jak podpisać dokument certyfikatem?", "Czytnik karty nie działa przy podpisywaniu dokumentów"),
    "admin-guide#kopie": ("Jak wykonać kopię zapasową bazy?", "Czy odtworzenie kopii bazy wymaga zatrzymania usługi?"),
    "admin-guide#uprawnienia": ("Jak nadać uprawnienia użytkownikowi?", "Grupy użytkowników i dziedziczenie uprawnień"),
    "admin-guide#aktualizacja": ("Jak zaktualizować program do nowej wersji?", "Instalator aktualizacji a wersja serwera"),
    "admin-guide#drukarki": ("Jak ustawić domyślną drukarkę?", "Wydruk kopert na drukarce z podajnikiem ręcznym"),
    "admin-guide#licencja": ("Gdzie wprowadzić klucz licencji?", "Ile stanowisk obejmuje nasza licencja?"),
    "admin-guide#jpk": ("Jak wygenerować plik JPK za kwartał?", "Plik JPK niezgodny ze schematem, jak go podpisać?"),
    "admin-guide#przeniesienie": ("Jak przenieść bazę na inny serwer?", "Nowy komputer: instalacja serwera bazy danych"),
    "admin-guide#archiwizacja": ("Jak zarchiwizować zamknięty rok?", "Czy dokumenty w archiwum można zmienić?"),
    "admin-guide#poczta": ("Jak ustawić serwer poczty wychodzącej?", "Powiadomienia e-mail do podatników nie wychodzą"),
    "admin-guide#dziennik": ("Gdzie jest dziennik zdarzeń logowania?", "Eksport dziennika zmian danych dla audytora"),
}

# A fax's OCR: what it misreads one letter as (the first of these found in the question).
_MISREAD = (("rn", "m"), ("m", "rn"), ("l", "I"), ("o", "0"), ("e", "c"), ("a", "o"))


def ocr_damaged(text: str) -> str:
    """Diacritics lost (ł too) and one letter misread, as a faxed form reads."""
    bare = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("Ł", "L"))
    bare = "".join(c for c in bare if not unicodedata.combining(c))
    words = bare.split(" ")
    longest = max(range(len(words)), key=lambda i: len(words[i]))  # a content word, not "Jak"
    for wrong, read in _MISREAD:
        if wrong in words[longest][1:]:
            head, _, tail = words[longest][1:].partition(wrong)
            words[longest] = words[longest][0] + head + read + tail
            break
    return " ".join(words)


def sections() -> list[Section]:
    user = [Section(f"user-guide#{n}", title, text) for n, (title, text) in enumerate(USER, start=1)]
    return user + [Section(f"admin-guide#{anchor}", title, text) for anchor, title, text in ADMIN]


def questions() -> list[Question]:
    asked = [Question(text, key, False) for key, pair in ASKED.items() for text in pair]
    return asked + [Question(ocr_damaged(pair[0]), key, True) for key, pair in ASKED.items()]


def write_docs(folder: Path) -> None:
    """The user guide as a PDF (a section a page, written with fpdf2) and the admin guide as
    HTML (a section an anchor), as a vendor ships them."""
    from fpdf import FPDF

    from tests.formfactory import font_path

    folder.mkdir(parents=True, exist_ok=True)
    pdf = FPDF()
    pdf.set_title(USER_GUIDE)
    pdf.add_font("DejaVu", fname=str(font_path("DejaVuSans")))
    pdf.set_font("DejaVu", size=12)
    for title, text in USER:
        pdf.add_page()
        pdf.multi_cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(folder / "user-guide.pdf"))
    body = "\n".join(f'<h2 id="{anchor}">{title}</h2>\n<p>{text}</p>' for anchor, title, text in ADMIN)
    (folder / "admin-guide.html").write_text(
        f"<!doctype html><html lang='pl'><head><meta charset='utf-8'><title>{ADMIN_GUIDE}</title></head>"
        f"<body><h1>{ADMIN_GUIDE}</h1>\n{body}\n</body></html>",
        encoding="utf-8")
