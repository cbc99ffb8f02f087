"""The new text of consultants' replies, as real mail clients lay them out (pl and en)."""
from __future__ import annotations

from parsers.reply import REPLY_MARKERS, ReplyText, new_text


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


# --- Thunderbird ----------------------------------------------------------------------


def test_thunderbird_polish_closing_phrase_and_quote() -> None:
    body = crlf(
        "Dzień dobry, \n"  # format=flowed leaves a trailing space
        "\n"
        "proszę zaktualizować moduł Raporty do wersji 5.2. \n"
        "Po aktualizacji zestawienie kwartalne generuje się poprawnie.\n"
        "\n"
        "Pozdrawiam\n"
        "Anna Nowak\n"
        "Konsultant hot-line\n"
        "tel. 22 123 45 67\n"
        "\n"
        "W dniu 20.11.2026 o 10:15, Jan Kowalski pisze:\n"
        "> Dzień dobry,\n"
        ">\n"
        "> raport kwartalny nie generuje się.\n"
        ">\n"
        "> Jan Kowalski\n"
        "> Urząd Gminy Kłodawa\n"
    )
    reply = new_text(body)
    assert reply.new == (
        "Dzień dobry,\n"
        "\n"
        "proszę zaktualizować moduł Raporty do wersji 5.2.\n"
        "Po aktualizacji zestawienie kwartalne generuje się poprawnie."
    )
    assert reply.signature == "Pozdrawiam\nAnna Nowak\nKonsultant hot-line\ntel. 22 123 45 67"
    assert reply.quoted.startswith("W dniu 20.11.2026 o 10:15, Jan Kowalski pisze:\n> Dzień dobry,")
    assert reply.quoted.endswith("> Urząd Gminy Kłodawa")
    assert "\r" not in reply.new + reply.signature + reply.quoted


def test_thunderbird_english_sig_dash() -> None:
    body = (
        "Hello Mr Kowalski,\n"
        "\n"
        "the quarterly report works again after the update to 5.2.\n"
        "\n"
        "-- \n"
        "Anna Nowak\n"
        "BeSTi@ hot-line\n"
        "+48 22 123 45 67\n"
        "\n"
        "On 20/11/2026 10:15, Jan Kowalski wrote:\n"
        "> Hello,\n"
        "> the quarterly report does not work.\n"
    )
    reply = new_text(body)
    assert reply.new == "Hello Mr Kowalski,\n\nthe quarterly report works again after the update to 5.2."
    assert reply.signature == "--\nAnna Nowak\nBeSTi@ hot-line\n+48 22 123 45 67"
    assert reply.quoted == (
        "On 20/11/2026 10:15, Jan Kowalski wrote:\n> Hello,\n> the quarterly report does not work."
    )


def test_thunderbird_signature_below_the_quote() -> None:
    """Thunderbird can put the signature under the quote; it is still cut, not sent."""
    body = (
        "Tak, poprawka jest już dostępna.\n"
        "\n"
        "W dniu 20.11.2026 o 10:15, Jan Kowalski pisze:\n"
        "> Czy poprawka jest dostępna?\n"
        "\n"
        "-- \n"
        "Anna Nowak, hot-line\n"
    )
    reply = new_text(body)
    assert reply.new == "Tak, poprawka jest już dostępna."
    assert reply.signature == "--\nAnna Nowak, hot-line"
    assert reply.quoted == "W dniu 20.11.2026 o 10:15, Jan Kowalski pisze:\n> Czy poprawka jest dostępna?"


# --- Gmail ----------------------------------------------------------------------------


def test_gmail_polish_wrapped_attribution() -> None:
    body = (
        "Dzień dobry,\n"
        "proszę sprawdzić uprawnienia w module Administracja > Role.\n"
        "\n"
        "Z poważaniem\n"
        "Anna Nowak\n"
        "\n"
        "pon., 23 lis 2026 o 09:12 Jan Kowalski <jan.kowalski@ug-klodawa.pl>\n"
        "napisał(a):\n"
        "\n"
        "> Dzień dobry,\n"
        "> nie mogę się zalogować do systemu.\n"
        "> Pozdrawiam\n"
        "> Jan Kowalski\n"
        ">\n"
    )
    reply = new_text(body)
    assert reply.new == "Dzień dobry,\nproszę sprawdzić uprawnienia w module Administracja > Role."
    assert reply.signature == "Z poważaniem\nAnna Nowak"
    assert reply.quoted.startswith(
        "pon., 23 lis 2026 o 09:12 Jan Kowalski <jan.kowalski@ug-klodawa.pl>\nnapisał(a):"
    )
    assert "> nie mogę się zalogować do systemu." in reply.quoted


def test_gmail_polish_one_line_attribution() -> None:
    body = (
        "Proszę wyczyścić pamięć przeglądarki.\n"
        "\n"
        "śr., 25 lis 2026 o 14:03 Jan <jan@x.pl> napisał(a):\n"
        "\n"
        "> Strona się nie ładuje.\n"
    )
    reply = new_text(body)
    assert reply.new == "Proszę wyczyścić pamięć przeglądarki."
    assert reply.signature == ""
    assert reply.quoted == "śr., 25 lis 2026 o 14:03 Jan <jan@x.pl> napisał(a):\n\n> Strona się nie ładuje."


def test_gmail_english_one_line_and_wrapped() -> None:
    one_line = (
        "Please restart the service.\n"
        "\n"
        "Best regards,\n"
        "Anna\n"
        "\n"
        "On Mon, Nov 23, 2026 at 9:12 AM Jan Kowalski <jan@x.pl> wrote:\n"
        "\n"
        "> The service hangs.\n"
    )
    wrapped = (
        "Please restart the service.\n"
        "\n"
        "On Mon, Nov 23, 2026 at 9:12 AM Jan Kowalski <jan.kowalski@ug-klodawa.pl>\n"
        "wrote:\n"
        "\n"
        "> The service hangs.\n"
    )
    first = new_text(one_line)
    assert first == ReplyText(
        new="Please restart the service.",
        signature="Best regards,\nAnna",
        quoted="On Mon, Nov 23, 2026 at 9:12 AM Jan Kowalski <jan@x.pl> wrote:\n\n> The service hangs.",
    )
    second = new_text(wrapped)
    assert second.new == "Please restart the service."
    assert second.quoted.startswith("On Mon, Nov 23, 2026 at 9:12 AM Jan Kowalski <jan.kowalski@ug-klodawa.pl>\nwrote:")


# --- Outlook --------------------------------------------------------------------------


def test_outlook_english_original_message() -> None:
    body = crlf(
        "Please clear the cache and log in again.\n"
        "\n"
        "Kind regards,\n"
        "Anna Nowak\n"
        "Hot-line consultant\n"
        "\n"
        "-----Original Message-----\n"
        "From: Jan Kowalski <jan@x.pl>\n"
        "Sent: Monday, November 23, 2026 9:12 AM\n"
        "To: Hotline <hotline@example.org>\n"
        "Subject: [HOT#2026-000123] Login problem\n"
        "\n"
        "I cannot log in.\n"
        "\n"
        "Best regards,\n"
        "Jan\n"
    )
    reply = new_text(body)
    assert reply.new == "Please clear the cache and log in again."
    assert reply.signature == "Kind regards,\nAnna Nowak\nHot-line consultant"
    assert reply.quoted.startswith("-----Original Message-----\nFrom: Jan Kowalski <jan@x.pl>")
    assert reply.quoted.endswith("I cannot log in.\n\nBest regards,\nJan")


def test_outlook_polish_original_message() -> None:
    body = (
        "Dzień dobry,\n"
        "błąd usunięto w wersji 5.2.1.\n"
        "\n"
        "-----Wiadomość oryginalna-----\n"
        "Od: Jan Kowalski <jan@x.pl>\n"
        "Wysłano: poniedziałek, 23 listopada 2026 09:12\n"
        "Do: Hotline <hotline@example.org>\n"
        "Temat: [HOT#2026-000123] Błąd wydruku\n"
        "\n"
        "Wydruk decyzji kończy się błędem.\n"
    )
    reply = new_text(body)
    assert reply.new == "Dzień dobry,\nbłąd usunięto w wersji 5.2.1."
    assert reply.signature == ""
    assert reply.quoted.startswith("-----Wiadomość oryginalna-----")
    assert reply.quoted.endswith("Wydruk decyzji kończy się błędem.")


def test_outlook_polish_header_block_after_underscores() -> None:
    body = crlf(
        "Dzień dobry,\n"
        "\n"
        "proszę wyczyścić pamięć podręczną:\n"
        "1. Menu Plik\n"
        "2. Opcje\n"
        "3. Wyczyść\n"
        "\n"
        "Z poważaniem\n"
        "Anna Nowak\n"
        "\n"
        "________________________________\n"
        "Od: Jan Kowalski <jan.kowalski@ug-klodawa.pl>\n"
        "Wysłane: poniedziałek, 23 listopada 2026 09:12\n"
        "Do: Hotline <hotline@example.org>\n"
        "Temat: [HOT#2026-000123] Problem z logowaniem\n"
        "\n"
        "Dzień dobry,\n"
        "nie mogę się zalogować.\n"
        "Pozdrawiam\n"
        "Jan Kowalski\n"
    )
    reply = new_text(body)
    assert reply.new == (
        "Dzień dobry,\n\nproszę wyczyścić pamięć podręczną:\n1. Menu Plik\n2. Opcje\n3. Wyczyść"
    )
    assert reply.signature == "Z poważaniem\nAnna Nowak"
    assert reply.quoted.startswith("________________________________\nOd: Jan Kowalski")
    assert reply.quoted.endswith("Pozdrawiam\nJan Kowalski")


def test_outlook_english_header_block_with_wrapped_to_line() -> None:
    body = (
        "The export is fixed in 5.2.1.\n"
        "\n"
        "From: Jan Kowalski <jan@x.pl>\n"
        "Sent: Monday, November 23, 2026 9:12 AM\n"
        "To: Hotline <hotline@example.org>; Anna Nowak\n"
        "<anna@example.org>\n"
        "Cc: IT <it@x.pl>\n"
        "Subject: RE: [HOT#2026-000123] Export\n"
        "\n"
        "The export fails.\n"
    )
    reply = new_text(body)
    assert reply.new == "The export is fixed in 5.2.1."
    assert reply.quoted.startswith("From: Jan Kowalski <jan@x.pl>\nSent:")


# --- Apple Mail -----------------------------------------------------------------------


def test_apple_mail_ios_english() -> None:
    body = (
        "Yes, it is fixed now.\n"
        "\n"
        "Sent from my iPhone\n"
        "\n"
        "> On 23 Nov 2026, at 09:12, Jan Kowalski <jan@x.pl> wrote:\n"
        ">\n"
        "> Is it fixed?\n"
    )
    reply = new_text(body)
    assert reply == ReplyText(
        new="Yes, it is fixed now.",
        signature="Sent from my iPhone",
        quoted="> On 23 Nov 2026, at 09:12, Jan Kowalski <jan@x.pl> wrote:\n>\n> Is it fixed?",
    )


def test_apple_mail_polish() -> None:
    body = (
        "Tak, poprawka działa.\n"
        "\n"
        "Wysłane z iPhone'a\n"
        "\n"
        "Wiadomość napisana przez Jan Kowalski <jan@x.pl> w dniu 23.11.2026, o godz. 09:12:\n"
        "\n"
        "> Czy poprawka działa?\n"
    )
    reply = new_text(body)
    assert reply.new == "Tak, poprawka działa."
    assert reply.signature == "Wysłane z iPhone'a"
    assert reply.quoted == (
        "Wiadomość napisana przez Jan Kowalski <jan@x.pl> w dniu 23.11.2026, o godz. 09:12:\n"
        "\n"
        "> Czy poprawka działa?"
    )


def test_apple_mail_macos_english_unquoted_attribution() -> None:
    body = (
        "Version 5.2 is required.\n"
        "\n"
        "> On 23 Nov 2026, at 09:12, Jan Kowalski <jan@x.pl> wrote:\n"
        "> \n"
        "> Which version do we need?\n"
        "> \n"
        "> Jan\n"
    )
    assert new_text(body).new == "Version 5.2 is required."


# --- inline and bottom replies --------------------------------------------------------


def test_inline_reply_keeps_the_consultants_lines_only() -> None:
    body = (
        "W dniu 20.11.2026 o 10:15, Jan Kowalski pisze:\n"
        "> 1. Czy wersja 5.1 obsługuje JPK?\n"
        "Tak, od poprawki 5.1.3.\n"
        "\n"
        "> 2. Gdzie jest raport kwartalny?\n"
        "> Nie mogę go znaleźć.\n"
        "W menu Raporty > Okresowe.\n"
        ">\n"
        "> Pozdrawiam\n"
        "> Jan\n"
        "\n"
        "Pozdrawiam\n"
        "Anna\n"
    )
    reply = new_text(body)
    assert reply.new == "Tak, od poprawki 5.1.3.\n\nW menu Raporty > Okresowe."
    assert reply.signature == "Pozdrawiam\nAnna"
    assert "> 1. Czy wersja 5.1 obsługuje JPK?" in reply.quoted
    assert "> Nie mogę go znaleźć." in reply.quoted
    assert "Tak, od" not in reply.quoted


def test_inline_reply_without_attribution() -> None:
    """A body that starts with a quoted line is an inline reply with the attribution deleted."""
    body = "> Czy wersja 5.1 obsługuje JPK?\nTak.\n> A Windows 11?\nTeż.\n"
    reply = new_text(body)
    assert reply.new == "Tak.\n\nTeż."
    assert reply.quoted == "> Czy wersja 5.1 obsługuje JPK?\n> A Windows 11?"


def test_bottom_posted_reply_below_the_quote() -> None:
    body = (
        "On Mon, Nov 23, 2026 at 9:12 AM Jan Kowalski <jan@x.pl> wrote:\n"
        "> Does the import accept XLSX?\n"
        "> Older quoted text\n"
        "\n"
        "Yes, since version 5.0.\n"
        "Use Import > From file.\n"
        "\n"
        "Best regards,\n"
        "Anna\n"
    )
    reply = new_text(body)
    assert reply.new == "Yes, since version 5.0.\nUse Import > From file."
    assert reply.signature == "Best regards,\nAnna"
    assert reply.quoted.startswith("On Mon, Nov 23, 2026 at 9:12 AM")


def test_history_after_inline_answers_is_cut_whole() -> None:
    """An unquoted Outlook block after the quote ends the consultant's answers."""
    body = (
        "W dniu 20.11.2026 o 10:15, Jan Kowalski pisze:\n"
        "> Pytanie?\n"
        "Odpowiedź.\n"
        "\n"
        "-----Wiadomość oryginalna-----\n"
        "Od: Ktoś <k@x.pl>\n"
        "Starsza treść bez cytowania.\n"
    )
    reply = new_text(body)
    assert reply.new == "Odpowiedź."
    assert reply.quoted.endswith("Starsza treść bez cytowania.")


# --- no false cuts --------------------------------------------------------------------


def test_plain_answer_stays_whole() -> None:
    body = (
        "Dzień dobry,\n"
        "\n"
        "instrukcja:\n"
        "- otworzyć moduł Kadry,\n"
        "- wybrać pracownika,\n"
        "  a potem zakładkę Umowy (wcięcie zostaje),\n"
        "- zapisać.\n"
        "\n"
        "Dokumentacja: rozdział 4.2 podręcznika administratora.\n"
    )
    reply = new_text(body)
    assert reply == ReplyText(new=body.strip(), signature="", quoted="")


def test_answer_ending_with_a_hyphen_list_is_not_a_signature() -> None:
    body = "Proszę sprawdzić:\n- uprawnienia\n- licencję\n"
    assert new_text(body).new == "Proszę sprawdzić:\n- uprawnienia\n- licencję"


def test_closing_phrase_in_the_middle_is_not_a_signature() -> None:
    body = (
        "Dzień dobry,\n"
        "\n"
        "w stopce szablonu proszę wpisać\n"
        "Pozdrawiam\n"
        "i nazwę urzędu, a następnie zapisać szablon. Szablon pojawi się\n"
        "w menu Szablony po ponownym uruchomieniu programu. Jeżeli\n"
        "się nie pojawi, proszę sprawdzić uprawnienia użytkownika\n"
        "w module Administracja, zakładka Role, oraz czy szablon\n"
        "jest oznaczony jako aktywny. W razie dalszych problemów\n"
        "proszę o zrzut ekranu i numer wersji.\n"
        "Ten krok jest opisany w podręczniku.\n"
    )
    reply = new_text(body)
    assert reply.new == body.strip()
    assert reply.signature == ""


def test_closing_phrase_followed_by_prose_is_not_a_signature() -> None:
    body = (
        "Pozdrawiam\n"
        "Tak się kończy szablon, który urząd wysyła do mieszkańców po decyzji.\n"
    )
    assert new_text(body).new == body.strip()


def test_closing_phrase_inside_a_sentence_is_text() -> None:
    body = "Proszę zakończyć pismo słowami Pozdrawiam serdecznie.\nBest regards is the English form."
    assert new_text(body).new == body


def test_quote_marks_in_the_consultants_own_text_stay() -> None:
    body = (
        "Ścieżka w menu:\n"
        "> Plik\n"
        "> Ustawienia\n"
        "> Drukarki\n"
        "Tam proszę wybrać drukarkę faksu.\n"
        "\n"
        "Wynik:\n"
        "> OK\n"
    )
    reply = new_text(body)
    assert reply.new == body.strip()
    assert reply.quoted == ""


def test_trailing_quote_block_without_attribution_is_history() -> None:
    body = "Tak, działa.\n\n> Czy działa?\n> Jan\n"
    reply = new_text(body)
    assert reply.new == "Tak, działa."
    assert reply.quoted == "> Czy działa?\n> Jan"


def test_double_dash_inside_text_is_not_a_signature() -> None:
    inline = "Parametr -- verbose włącza log.\nOpcja -- działa od wersji 5.\n"
    assert new_text(inline).new == inline.strip()
    separator = "Część 1\n-- \n" + "".join(f"krok {n}: opis kroku numer {n}\n" for n in range(1, 13))
    reply = new_text(separator)
    assert reply.new == separator.strip().replace("-- \n", "--\n")
    assert reply.signature == ""


def test_hours_and_dates_are_not_an_outlook_header() -> None:
    """The library splits Polish mail at any "Do:"/"Data:" line; we need From/To/Subject."""
    body = "Hot-line jest czynny:\nOd: 8:00\nDo: 16:00\nData: każdy dzień roboczy\n"
    assert new_text(body).new == body.strip()


def test_wrote_without_a_date_is_text() -> None:
    body = "On Monday the customer wrote:\n\"the report is empty\"\nThe fix is in 5.2."
    assert new_text(body).new == body
    assert new_text("Klient napisał:\nraport jest pusty.").new == "Klient napisał:\nraport jest pusty."


# --- signatures -----------------------------------------------------------------------


def test_closing_phrase_and_sig_dash_both_cut() -> None:
    body = (
        "Proszę zrestartować usługę hotline.\n"
        "\n"
        "Pozdrawiam,\n"
        "Anna\n"
        "\n"
        "-- \n"
        "Anna Nowak\n"
        "Konsultant ds. wdrożeń\n"
        "BeSTi@ Sp. z o.o.\n"
        "ul. Prosta 1, 00-001 Warszawa\n"
        "tel. 22 123 45 67\n"
        "https://example.org\n"
    )
    reply = new_text(body)
    assert reply.new == "Proszę zrestartować usługę hotline."
    assert reply.signature.startswith("Pozdrawiam,\nAnna\n\n--\nAnna Nowak")
    assert reply.signature.endswith("https://example.org")


def test_closing_phrase_with_name_on_one_line() -> None:
    reply = new_text("Poprawka jest w wersji 5.2.\nPozdrawiam, Anna Nowak\n")
    assert reply.new == "Poprawka jest w wersji 5.2."
    assert reply.signature == "Pozdrawiam, Anna Nowak"


def test_sent_from_mobile_lines() -> None:
    assert new_text("OK, zamykam.\n\nWysłane z iPhone’a").signature == "Wysłane z iPhone’a"
    reply = new_text("Done.\n\nGet Outlook for Android<https://aka.ms/AAb9ysg>\n")
    assert reply.new == "Done."
    assert reply.signature.startswith("Get Outlook for Android")


def test_crlf_trailing_spaces_and_empty_body() -> None:
    assert new_text("Linia 1   \r\n\r\n  Linia 2\r\n").new == "Linia 1\n\n  Linia 2"
    assert new_text("") == ReplyText(new="", signature="", quoted="")


def test_languages_are_passed_to_the_library() -> None:
    body = "Ja.\n\nAm 23.11.2026 um 09:12 schrieb Jan Kowalski <jan@x.pl>:\n> Geht es?\n"
    assert new_text(body, languages=("de",)).new == "Ja."


def test_closing_phrase_followed_by_lowercase_words_is_a_sentence() -> None:
    body = "Proszę przekazać dalej.\nBest regards to the whole team"
    assert new_text(body).new == body


def test_sentence_ending_in_napisal_is_not_an_attribution() -> None:
    body = "Ponieważ 20.11 klient napisał:\n\"raport jest pusty\", proszę o zrzut.\n"
    assert new_text(body).new == body.strip()


def test_long_answer_is_kept_and_fast() -> None:
    paragraph = "Zdanie odpowiedzi konsultanta z opisem kroku w programie.\n"
    body = paragraph * 5000 + "\nPozdrawiam\nAnna\n"
    reply = new_text(body)
    assert reply.new == (paragraph * 5000).strip()
    assert reply.signature == "Pozdrawiam\nAnna"


# --- our own marker (rule 5) ----------------------------------------------------------

NOTIFICATION = (
    f"{REPLY_MARKERS['pl']}\n\n*** DO SPRAWDZENIA ***\n- brak kontaktu zwrotnego\n\n"
    "Odpowiedz na tę wiadomość. Polecenia w pierwszych wierszach:\n#note  #close  #severity N\n\n"
    "Zgłoszenie:        HOT-2026-000123\n"
)


def test_an_unknown_attribution_is_cut_at_our_marker() -> None:
    """A German Thunderbird: "Am ... schrieb" is known to no rule; the whole notification
    (review notes, the command help) once went to the user."""
    quoted = "\n".join(f"> {line}" if line else ">" for line in NOTIFICATION.splitlines())
    body = f"Bitte Version 5.2 installieren.\n\n-- \nAnna\n\nAm 03.12.2026 um 10:15 schrieb Hotline:\n{quoted}\n"
    reply = new_text(body)
    assert reply.new == "Bitte Version 5.2 installieren." and reply.signature == "--\nAnna"
    assert reply.quoted.startswith("Am 03.12.2026") and "DO SPRAWDZENIA" in reply.quoted


def test_an_unquoted_notification_under_an_unknown_header_block_is_cut_at_our_marker() -> None:
    body = ("Bitte Version 5.2 installieren.\n\n________________________________\nVon: Hot-line <hotline@example.org>\n"
            "Gesendet: Donnerstag, 3. Dezember 2026 10:15\nAn: support-team@example.org\nBetreff: [HOT#2026-000123] x\n\n"
            f"{NOTIFICATION}")  # fmt: skip
    reply = new_text(body)
    assert reply.new == "Bitte Version 5.2 installieren." and "Von:" not in reply.new and "#close" not in reply.new
    assert reply.quoted.startswith("_____")


def test_text_above_the_marker_ending_in_a_colon_without_a_date_stays() -> None:
    body = f"Proszę wykonać kroki:\n1. Raporty\n2. Eksport\n\nZ tego menu:\n> {REPLY_MARKERS['en']}\n> Request: HOT-2026-000123\n"
    assert new_text(body).new == "Proszę wykonać kroki:\n1. Raporty\n2. Eksport\n\nZ tego menu:"
