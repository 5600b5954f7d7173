"""A tiny parallel QA benchmark written by the project for the quickstart's decontamination stages.

Four items, each in English, German, French and Spanish (same `parallel_id`). make_demo.py plants
one English item verbatim in an English document (a same-language leak) and the German
translation of another in a German document (a translated leak only a cross-lingual check finds).
"""

ITEMS = [
    {
        "parallel_id": "q1",
        "en": ("The lighthouse on the northern cliff was built in 1874 by a company of stonemasons from the coast, and its lamp was first lit with whale oil before electricity reached the village in 1931.",
               "With what fuel was the lighthouse lamp first lit?"),
        "de": ("Der Leuchtturm auf der nördlichen Klippe wurde 1874 von einer Gruppe Steinmetze von der Küste gebaut, und seine Lampe brannte zuerst mit Walöl, bevor der Strom im Jahr 1931 das Dorf erreichte.",
               "Mit welchem Brennstoff wurde die Lampe des Leuchtturms zuerst betrieben?"),
        "fr": ("Le phare de la falaise nord a été construit en 1874 par une équipe de tailleurs de pierre venus de la côte, et sa lampe a d'abord brûlé de l'huile de baleine avant que l'électricité n'arrive au village en 1931.",
               "Avec quel combustible la lampe du phare a-t-elle d'abord été allumée ?"),
        "es": ("El faro del acantilado norte fue construido en 1874 por un grupo de canteros de la costa, y su lámpara se encendió primero con aceite de ballena antes de que la electricidad llegara al pueblo en 1931.",
               "¿Con qué combustible se encendió primero la lámpara del faro?"),
    },
    {
        "parallel_id": "q2",
        "en": ("During the dry season the river shrinks to a chain of shallow pools, and the farmers of the valley dig small wells in the sandy riverbed to water their goats and their vegetable gardens.",
               "What do the farmers dig in the riverbed during the dry season?"),
        "de": ("In der Trockenzeit schrumpft der Fluss zu einer Kette flacher Tümpel, und die Bauern des Tals graben kleine Brunnen in das sandige Flussbett, um ihre Ziegen und ihre Gemüsegärten zu bewässern.",
               "Was graben die Bauern in der Trockenzeit in das Flussbett?"),
        "fr": ("Pendant la saison sèche, la rivière se réduit à une chaîne de mares peu profondes, et les paysans de la vallée creusent de petits puits dans le lit sableux pour abreuver leurs chèvres et arroser leurs potagers.",
               "Que creusent les paysans dans le lit de la rivière pendant la saison sèche ?"),
        "es": ("Durante la estación seca el río se reduce a una cadena de charcas poco profundas, y los campesinos del valle cavan pequeños pozos en el lecho arenoso para dar de beber a sus cabras y regar sus huertos.",
               "¿Qué cavan los campesinos en el lecho del río durante la estación seca?"),
    },
    {
        "parallel_id": "q3",
        "en": ("The orchestra rehearsed the new symphony for six weeks, but on the evening of the premiere the conductor fell ill and the young assistant conducted the whole concert without a score.",
               "Who conducted the premiere of the new symphony?"),
        "de": ("Das Orchester probte die neue Sinfonie sechs Wochen lang, doch am Abend der Uraufführung erkrankte der Dirigent, und der junge Assistent dirigierte das ganze Konzert ohne Partitur.",
               "Wer dirigierte die Uraufführung der neuen Sinfonie?"),
        "fr": ("L'orchestre a répété la nouvelle symphonie pendant six semaines, mais le soir de la première le chef est tombé malade et le jeune assistant a dirigé tout le concert sans partition.",
               "Qui a dirigé la première de la nouvelle symphonie ?"),
        "es": ("La orquesta ensayó la nueva sinfonía durante seis semanas, pero la noche del estreno el director enfermó y el joven asistente dirigió todo el concierto sin partitura.",
               "¿Quién dirigió el estreno de la nueva sinfonía?"),
    },
    {
        "parallel_id": "q4",
        "en": ("Bees returning to the hive perform a waggle dance whose angle tells the other workers the direction of the flowers relative to the sun, while its length signals the distance.",
               "What does the length of the waggle dance signal?"),
        "de": ("Bienen, die in den Stock zurückkehren, führen einen Schwänzeltanz auf, dessen Winkel den anderen Arbeiterinnen die Richtung der Blüten relativ zur Sonne anzeigt, während seine Dauer die Entfernung angibt.",
               "Was gibt die Dauer des Schwänzeltanzes an?"),
        "fr": ("Les abeilles qui rentrent à la ruche exécutent une danse frétillante dont l'angle indique aux autres ouvrières la direction des fleurs par rapport au soleil, tandis que sa durée signale la distance.",
               "Que signale la durée de la danse frétillante ?"),
        "es": ("Las abejas que regresan a la colmena realizan una danza del meneo cuyo ángulo indica a las demás obreras la dirección de las flores respecto al sol, mientras que su duración señala la distancia.",
               "¿Qué señala la duración de la danza del meneo?"),
    },
]
LANGS = ("en", "de", "fr", "es")


def benchmark_records() -> list[dict]:
    return [{"id": f"demo-qa.{lang}.{item['parallel_id']}", "parallel_id": item["parallel_id"], "lang": lang,
             "context": item[lang][0], "question": item[lang][1]}
            for item in ITEMS for lang in LANGS]


# (parallel_id, language of the leaked text, language of the document it is planted in)
LEAKS = [("q1", "en", "eng_Latn"), ("q2", "de", "deu_Latn")]
