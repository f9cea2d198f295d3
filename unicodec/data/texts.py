"""Sentences for the synthetic corpus, in seven languages.

Every language has the same small grammar: a subject, a predicate and an adverbial
phrase make a clause; one or two clauses make a sentence; a few fixed questions and
exclamations add other intonation patterns. Clauses are split once and for all between
the train, valid and test subsets by a hash of their text, so a held-out sentence never
shares a clause with a training sentence, whatever the seed.

Example
-------
>>> import random
>>> text = compose_sentence("fr", "train", random.Random(0))
>>> isinstance(text, str) and len(text) > 10
True
>>> clause_subset("The teacher fixed the broken bicycle near the station.") in SUBSETS
True
"""

import functools
import hashlib
import itertools

LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "cmn")
"""Language codes of the corpus (ISO 639, ``cmn`` is Mandarin Chinese)."""

LANGUAGE_NAMES = {
    "en": "English",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "cmn": "Mandarin Chinese",
}

SUBSETS = ("train", "valid", "test")
"""Roles of the text pools (and of the corpus subsets)."""

_HELD_OUT_BUCKETS = {0: "valid", 1: "test"}
_NUM_BUCKETS = 10  # one clause in ten goes to valid, one in ten to test

# Clause grammar per language: subjects, predicates, adverbials and a template. In the
# German template the predicate is split at "|" around the adverbial (verb second).
_GRAMMAR = {
    "en": {
        "template": "{subject} {predicate} {adverbial}",
        "join": ", and ",
        "end": ".",
        "subjects": [
            "The old fisherman", "My younger sister", "A tired student", "The new doctor",
            "Our neighbour", "The little boy", "A quiet woman", "The baker on the corner",
            "My grandfather", "The young musician", "A stranger in a grey coat",
            "The teacher",
        ],
        "predicates": [
            "painted the kitchen door", "found a letter under the bed",
            "carried the heavy boxes upstairs", "cooked rice with fresh vegetables",
            "read the newspaper aloud", "planted three apple trees",
            "fixed the broken bicycle", "sang an old song", "bought bread and cheese",
            "opened every window in the house", "lost the keys again",
            "walked the dog along the river", "counted the coins twice",
            "called the office",
        ],
        "adverbials": [
            "yesterday morning", "before the storm", "near the station", "after dinner",
            "on a cold Sunday", "in the middle of the night", "without a word",
            "last summer", "at the market", "while it was raining",
        ],
        "extras": [
            "Where did you put the green umbrella?", "What a beautiful day it is!",
            "Could you close the door, please?", "I have never seen so many stars.",
            "The meeting starts at seven o'clock.", "Please speak a little more slowly.",
            "Is this the right way to the museum?", "We will be late again, I am sure!",
        ],
    },
    "fr": {
        "template": "{subject} {predicate} {adverbial}",
        "join": " et ",
        "end": ".",
        "subjects": [
            "Le vieux pêcheur", "Ma petite sœur", "Un étudiant fatigué",
            "Le nouveau médecin", "Notre voisine", "Le petit garçon",
            "Une femme discrète", "Le boulanger du coin", "Mon grand-père",
            "Le jeune musicien", "Un inconnu en manteau gris", "La maîtresse d'école",
        ],
        "predicates": [
            "a peint la porte de la cuisine", "a trouvé une lettre sous le lit",
            "a porté les lourdes caisses à l'étage",
            "a préparé du riz avec des légumes frais", "a lu le journal à voix haute",
            "a planté trois pommiers", "a réparé le vélo cassé",
            "a chanté une vieille chanson", "a acheté du pain et du fromage",
            "a ouvert toutes les fenêtres de la maison", "a encore perdu les clés",
            "a promené le chien le long de la rivière", "a compté les pièces deux fois",
            "a appelé le bureau",
        ],
        "adverbials": [
            "hier matin", "avant l'orage", "près de la gare", "après le dîner",
            "un dimanche froid", "au milieu de la nuit", "sans dire un mot",
            "l'été dernier", "au marché", "pendant qu'il pleuvait",
        ],
        "extras": [
            "Où as-tu mis le parapluie vert ?", "Quelle belle journée !",
            "Pourriez-vous fermer la porte, s'il vous plaît ?",
            "Je n'ai jamais vu autant d'étoiles.", "La réunion commence à sept heures.",
            "Parlez un peu plus lentement, s'il vous plaît.",
            "C'est bien le chemin du musée ?", "Nous serons encore en retard, j'en suis sûr !",
        ],
    },
    "de": {
        "template": "{subject} {predicate0} {adverbial} {predicate1}",
        "join": ", und ",
        "end": ".",
        "subjects": [
            "Der alte Fischer", "Meine kleine Schwester", "Ein müder Student",
            "Der neue Arzt", "Unsere Nachbarin", "Der kleine Junge", "Eine stille Frau",
            "Der Bäcker an der Ecke", "Mein Großvater", "Der junge Musiker",
            "Ein Fremder im grauen Mantel", "Die Lehrerin",
        ],
        "predicates": [
            "hat|die Küchentür gestrichen", "hat|einen Brief unter dem Bett gefunden",
            "hat|die schweren Kisten nach oben getragen",
            "hat|Reis mit frischem Gemüse gekocht", "hat|die Zeitung laut vorgelesen",
            "hat|drei Apfelbäume gepflanzt", "hat|das kaputte Fahrrad repariert",
            "hat|ein altes Lied gesungen", "hat|Brot und Käse gekauft",
            "hat|alle Fenster im Haus geöffnet", "hat|schon wieder die Schlüssel verloren",
            "ist|mit dem Hund am Fluss spazieren gegangen",
            "hat|die Münzen zweimal gezählt", "hat|im Büro angerufen",
        ],
        "adverbials": [
            "gestern Morgen", "vor dem Sturm", "in der Nähe des Bahnhofs",
            "nach dem Abendessen", "an einem kalten Sonntag", "mitten in der Nacht",
            "ganz ohne Worte", "letzten Sommer", "auf dem Markt", "im strömenden Regen",
        ],
        "extras": [
            "Wo hast du den grünen Regenschirm hingelegt?", "Was für ein schöner Tag!",
            "Könnten Sie bitte die Tür schließen?",
            "Ich habe noch nie so viele Sterne gesehen.",
            "Die Besprechung beginnt um sieben Uhr.", "Bitte sprechen Sie etwas langsamer.",
            "Ist das der richtige Weg zum Museum?",
            "Wir kommen schon wieder zu spät, da bin ich sicher!",
        ],
    },
    "es": {
        "template": "{subject} {predicate} {adverbial}",
        "join": " y ",
        "end": ".",
        "subjects": [
            "El viejo pescador", "Mi hermana pequeña", "Un estudiante cansado",
            "El nuevo médico", "Nuestra vecina", "El niño pequeño", "Una mujer tranquila",
            "El panadero de la esquina", "Mi abuelo", "El joven músico",
            "Un desconocido con abrigo gris", "La maestra",
        ],
        "predicates": [
            "pintó la puerta de la cocina", "encontró una carta debajo de la cama",
            "subió las cajas pesadas", "cocinó arroz con verduras frescas",
            "leyó el periódico en voz alta", "plantó tres manzanos",
            "arregló la bicicleta rota", "cantó una canción antigua", "compró pan y queso",
            "abrió todas las ventanas de la casa", "perdió las llaves otra vez",
            "paseó al perro junto al río", "contó las monedas dos veces",
            "llamó a la oficina",
        ],
        "adverbials": [
            "ayer por la mañana", "antes de la tormenta", "cerca de la estación",
            "después de la cena", "un domingo frío", "en medio de la noche",
            "sin decir una palabra", "el verano pasado", "en el mercado", "mientras llovía",
        ],
        "extras": [
            "¿Dónde pusiste el paraguas verde?", "¡Qué día tan bonito!",
            "¿Podría cerrar la puerta, por favor?", "Nunca he visto tantas estrellas.",
            "La reunión empieza a las siete.", "Por favor, hable un poco más despacio.",
            "¿Es este el camino al museo?", "¡Otra vez llegaremos tarde, estoy seguro!",
        ],
    },
    "it": {
        "template": "{subject} {predicate} {adverbial}",
        "join": " e ",
        "end": ".",
        "subjects": [
            "Il vecchio pescatore", "Mia sorella minore", "Uno studente stanco",
            "Il nuovo medico", "La nostra vicina", "Il bambino", "Una donna tranquilla",
            "Il fornaio all'angolo", "Mio nonno", "Il giovane musicista",
            "Uno sconosciuto con il cappotto grigio", "La maestra",
        ],
        "predicates": [
            "ha dipinto la porta della cucina", "ha trovato una lettera sotto il letto",
            "ha portato le casse pesanti al piano di sopra",
            "ha cucinato il riso con verdure fresche", "ha letto il giornale ad alta voce",
            "ha piantato tre meli", "ha riparato la bicicletta rotta",
            "ha cantato una vecchia canzone", "ha comprato pane e formaggio",
            "ha aperto tutte le finestre della casa", "ha perso di nuovo le chiavi",
            "ha portato il cane lungo il fiume", "ha contato le monete due volte",
            "ha chiamato l'ufficio",
        ],
        "adverbials": [
            "ieri mattina", "prima del temporale", "vicino alla stazione", "dopo cena",
            "una fredda domenica", "nel cuore della notte", "senza dire una parola",
            "l'estate scorsa", "al mercato", "mentre pioveva",
        ],
        "extras": [
            "Dove hai messo l'ombrello verde?", "Che bella giornata!",
            "Potrebbe chiudere la porta, per favore?",
            "Non ho mai visto così tante stelle.", "La riunione comincia alle sette.",
            "Per favore, parli un po' più lentamente.",
            "È questa la strada per il museo?", "Arriveremo di nuovo in ritardo, ne sono sicuro!",
        ],
    },
    "pt": {
        "template": "{subject} {predicate} {adverbial}",
        "join": " e ",
        "end": ".",
        "subjects": [
            "O velho pescador", "A minha irmã mais nova", "Um estudante cansado",
            "O novo médico", "A nossa vizinha", "O menino", "Uma mulher tranquila",
            "O padeiro da esquina", "O meu avô", "O jovem músico",
            "Um desconhecido de casaco cinzento", "A professora",
        ],
        "predicates": [
            "pintou a porta da cozinha", "encontrou uma carta debaixo da cama",
            "levou as caixas pesadas para cima", "cozinhou arroz com legumes frescos",
            "leu o jornal em voz alta", "plantou três macieiras",
            "consertou a bicicleta partida", "cantou uma canção antiga",
            "comprou pão e queijo", "abriu todas as janelas da casa",
            "perdeu as chaves outra vez", "passeou o cão ao longo do rio",
            "contou as moedas duas vezes", "telefonou para o escritório",
        ],
        "adverbials": [
            "ontem de manhã", "antes da tempestade", "perto da estação",
            "depois do jantar", "num domingo frio", "a meio da noite",
            "sem dizer uma palavra", "no verão passado", "no mercado", "enquanto chovia",
        ],
        "extras": [
            "Onde puseste o guarda-chuva verde?", "Que dia tão bonito!",
            "Pode fechar a porta, por favor?", "Nunca vi tantas estrelas.",
            "A reunião começa às sete horas.", "Por favor, fale um pouco mais devagar.",
            "É este o caminho para o museu?", "Vamos chegar atrasados outra vez, tenho a certeza!",
        ],
    },
    "cmn": {
        "template": "{subject}{adverbial}{predicate}",
        "join": "，",
        "end": "。",
        "subjects": [
            "那位老渔夫", "我的妹妹", "一个疲惫的学生", "新来的医生", "我们的邻居",
            "那个小男孩", "一位安静的女士", "街角的面包师", "我的爷爷",
            "那位年轻的音乐家", "一个穿灰色大衣的陌生人", "我们的老师",
        ],
        "predicates": [
            "把厨房的门漆好了", "在床底下找到了一封信", "把很重的箱子搬上了楼",
            "用新鲜的蔬菜做了米饭", "大声地读了报纸", "种了三棵苹果树",
            "修好了那辆坏了的自行车", "唱了一首老歌", "买了面包和奶酪",
            "打开了家里所有的窗户", "又把钥匙弄丢了", "沿着河边遛了狗",
            "把硬币数了两遍", "给办公室打了电话",
        ],
        "adverbials": [
            "昨天早上", "暴风雨之前", "在车站附近", "晚饭以后", "在一个寒冷的星期天",
            "半夜里", "一句话也没说就", "去年夏天", "在市场上", "下雨的时候",
        ],
        "extras": [
            "你把绿色的雨伞放在哪儿了？", "今天天气真好啊！", "请你把门关上，好吗？",
            "我从来没有见过这么多星星。", "会议七点钟开始。", "请说得慢一点儿。",
            "这是去博物馆的路吗？", "我们又要迟到了，我敢肯定！",
        ],
    },
}


def _check_language(language):
    if language not in _GRAMMAR:
        raise ValueError(f"Unknown language {language!r}; choose one of {LANGUAGES}")


def clause_subset(text):
    """Returns the subset (``train``, ``valid`` or ``test``) a clause belongs to.

    The choice is a fixed hash of the text, independent of any seed.

    Arguments
    ---------
    text : str
        A clause or a fixed sentence.

    Returns
    -------
    str
        One of ``SUBSETS``.

    Example
    -------
    >>> clause_subset("Quelle belle journée !") == clause_subset("Quelle belle journée !")
    True
    """
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    return _HELD_OUT_BUCKETS.get(int.from_bytes(digest[:8], "big") % _NUM_BUCKETS, "train")


def _make_clause(grammar, subject, predicate, adverbial):
    head, _, tail = predicate.partition("|")
    return grammar["template"].format(
        subject=subject,
        predicate=(head + " " + tail).strip() if tail else head,
        predicate0=head,
        predicate1=tail,
        adverbial=adverbial,
    )


@functools.lru_cache(maxsize=None)
def clauses(language, subset):
    """All clauses of one language that belong to one subset, in a fixed order.

    Arguments
    ---------
    language : str
        One of ``LANGUAGES``.
    subset : str
        One of ``SUBSETS``.

    Returns
    -------
    tuple of str
        Clauses without final punctuation.

    Example
    -------
    >>> sizes = [len(clauses("en", subset)) for subset in SUBSETS]
    >>> sum(sizes), min(sizes) > 50
    (1680, True)
    """
    _check_language(language)
    if subset not in SUBSETS:
        raise ValueError(f"Unknown subset {subset!r}; choose one of {SUBSETS}")
    grammar = _GRAMMAR[language]
    found = []
    for subject, predicate, adverbial in itertools.product(
        grammar["subjects"], grammar["predicates"], grammar["adverbials"]
    ):
        clause = _make_clause(grammar, subject, predicate, adverbial)
        if clause_subset(clause) == subset:
            found.append(clause)
    return tuple(found)


def extra_sentences(language, subset):
    """The fixed questions and exclamations of one language in one subset.

    Arguments
    ---------
    language : str
        One of ``LANGUAGES``.
    subset : str
        One of ``SUBSETS``.

    Returns
    -------
    list of str
        Complete sentences with their punctuation (possibly none for a small subset).

    Example
    -------
    >>> ends = ("?", "!", ".", "？", "！", "。")
    >>> all(text.endswith(ends) for text in extra_sentences("cmn", "train"))
    True
    """
    _check_language(language)
    return [text for text in _GRAMMAR[language]["extras"] if clause_subset(text) == subset]


def _lower_first(text):
    return text[:1].lower() + text[1:]


def compose_sentence(language, subset, rng, num_clauses=1, extra_probability=0.1):
    """Draws one sentence of a language from a subset's text pool.

    Arguments
    ---------
    language : str
        One of ``LANGUAGES``.
    subset : str
        One of ``SUBSETS``: held-out subsets only draw held-out clauses.
    rng : random.Random
        Source of randomness (the only one used).
    num_clauses : int
        Number of clauses joined into one sentence (1 or more).
    extra_probability : float
        Probability of returning one of the fixed questions or exclamations instead.

    Returns
    -------
    str
        The sentence, with final punctuation.

    Example
    -------
    >>> import random
    >>> one = compose_sentence("de", "test", random.Random(3), num_clauses=2)
    >>> one == compose_sentence("de", "test", random.Random(3), num_clauses=2)
    True
    >>> one.count(", und ")
    1
    """
    _check_language(language)
    grammar = _GRAMMAR[language]
    extras = extra_sentences(language, subset)
    if extras and rng.random() < extra_probability:
        return rng.choice(extras)
    pool = clauses(language, subset)
    parts = [rng.choice(pool) for _ in range(max(1, int(num_clauses)))]
    # Later clauses continue the sentence: lower their first letter (for German only the
    # article or determiner is lowered, nouns keep their capital).
    parts = parts[:1] + [_lower_first(part) for part in parts[1:]]
    return grammar["join"].join(parts) + grammar["end"]
