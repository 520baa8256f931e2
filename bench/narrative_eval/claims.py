"""Calibration sentences: 30 claims of the EUvsDisinfo kind, each told in English, Ukrainian
and Russian (the English follows a case title of ``euvsdisinfo/cases.csv`` or restates it;
the Ukrainian and Russian versions are our own translations, written for this set, with
their own wording rather than word-for-word). Several claims share a topic on purpose
(Navalny, biolabs, MH17, elections, Crimea), so that "different claim" pairs include hard
ones: the same actors, a different statement.
"""

from __future__ import annotations

CLAIMS: dict[str, tuple[str, str, str]] = {
    # key: (en, uk, ru)
    "biolabs_weapons": (
        "Secret US laboratories in Ukraine are developing biological weapons",
        "Таємні американські лабораторії в Україні розробляють біологічну зброю",
        "Секретные лаборатории США на Украине создают биологическое оружие",
    ),
    "biolabs_cholera": (
        "American biolabs in Ukraine caused the cholera outbreak",
        "Спалах холери спричинили американські біолабораторії в Україні",
        "Вспышку холеры вызвали американские биолаборатории на Украине",
    ),
    "navalny_alcohol": (
        "Navalny was not poisoned, only alcohol was found in his urine",
        "Навального ніхто не отруював, у його аналізах знайшли лише алкоголь",
        "Навального никто не травил, в его анализах нашли только алкоголь",
    ),
    "navalny_agent": (
        "Navalny is a project of Western intelligence services",
        "Навальний є проєктом західних спецслужб",
        "Навальный — это проект западных спецслужб",
    ),
    "mh17_ukraine": (
        "MH17 was shot down by a Ukrainian fighter jet",
        "Малайзійський Боїнг MH17 збив український винищувач",
        "Малайзийский Боинг MH17 сбил украинский истребитель",
    ),
    "mh17_investigation": (
        "The Dutch investigation into MH17 is biased and politically motivated",
        "Нідерландське розслідування катастрофи MH17 упереджене і політично вмотивоване",
        "Голландское расследование катастрофы MH17 предвзято и политически мотивировано",
    ),
    "coup_kyiv": (
        "The 2014 Maidan was a coup organised by the United States",
        "Майдан 2014 року був державним переворотом, організованим США",
        "Майдан 2014 года был госпереворотом, организованным США",
    ),
    "crimea_referendum": (
        "The people of Crimea freely chose to join Russia in a legal referendum",
        "Жителі Криму вільно обрали приєднання до Росії на законному референдумі",
        "Жители Крыма свободно выбрали присоединение к России на законном референдуме",
    ),
    "nazis_ukraine": (
        "Ukraine is ruled by neo-Nazis",
        "Україною керують неонацисти",
        "Украиной управляют неонацисты",
    ),
    "donbas_genocide": (
        "Kyiv is committing genocide against the Russian-speaking people of Donbas",
        "Київ чинить геноцид російськомовного населення Донбасу",
        "Киев совершает геноцид русскоязычного населения Донбасса",
    ),
    "ukraine_failed_state": (
        "Ukraine is a failed state that cannot survive without Western money",
        "Україна — неспроможна держава, яка не виживе без західних грошей",
        "Украина — несостоявшееся государство, которое не выживет без западных денег",
    ),
    "ukraine_external_rule": (
        "Ukraine is under the external control of Washington",
        "Україна перебуває під зовнішнім управлінням Вашингтона",
        "Украина находится под внешним управлением Вашингтона",
    ),
    "elections_cancel": (
        "Zelensky plans to cancel the elections to stay in power",
        "Зеленський планує скасувати вибори, щоб залишитися при владі",
        "Зеленский планирует отменить выборы, чтобы остаться у власти",
    ),
    "elections_rigged": (
        "The Ukrainian presidential election was rigged by the West",
        "Президентські вибори в Україні сфальсифікував Захід",
        "Президентские выборы на Украине сфальсифицировал Запад",
    ),
    "poroshenko_bloodshed": (
        "Poroshenko is ready to provoke bloodshed to get re-elected",
        "Порошенко готовий спровокувати кровопролиття, щоб переобратися",
        "Порошенко готов спровоцировать кровопролитие, чтобы переизбраться",
    ),
    "skripal_staged": (
        "The Skripal poisoning was staged by British intelligence",
        "Отруєння Скрипалів інсценувала британська розвідка",
        "Отравление Скрипалей инсценировала британская разведка",
    ),
    "douma_staged": (
        "The chemical attack in Douma was staged, the hospital video is fake",
        "Хімічну атаку в Думі інсценували, відео з лікарні підроблене",
        "Химическую атаку в Думе инсценировали, видео из больницы — фальшивка",
    ),
    "covid_us_weapon": (
        "The coronavirus is an American biological weapon",
        "Коронавірус — американська біологічна зброя",
        "Коронавирус — американское биологическое оружие",
    ),
    "vaccine_microchip": (
        "Vaccines against Covid-19 will be used to implant microchips in people",
        "Вакцини від ковіду використають, щоб вживляти людям мікрочипи",
        "Вакцины от ковида используют, чтобы вживлять людям микрочипы",
    ),
    "nato_encircle": (
        "NATO is encircling Russia and preparing an attack",
        "НАТО оточує Росію і готує напад",
        "НАТО окружает Россию и готовит нападение",
    ),
    "nato_promise": (
        "The West promised that NATO would not expand to the east",
        "Захід обіцяв, що НАТО не розширюватиметься на схід",
        "Запад обещал, что НАТО не будет расширяться на восток",
    ),
    "sanctions_backfire": (
        "Western sanctions hurt Europe more than Russia",
        "Західні санкції б'ють по Європі сильніше, ніж по Росії",
        "Западные санкции бьют по Европе сильнее, чем по России",
    ),
    "eu_collapse": (
        "The European Union is about to collapse",
        "Європейський Союз ось-ось розпадеться",
        "Евросоюз вот-вот развалится",
    ),
    "gay_propaganda": (
        "The EU imposes gay propaganda on children in Eastern Europe",
        "ЄС нав'язує дітям у Східній Європі гей-пропаганду",
        "ЕС навязывает детям в Восточной Европе гей-пропаганду",
    ),
    "soros_control": (
        "George Soros controls the US government",
        "Джордж Сорос контролює уряд США",
        "Джордж Сорос контролирует правительство США",
    ),
    "migrants_crime": (
        "Migrants are behind a wave of rapes in Germany",
        "Мігранти стоять за хвилею зґвалтувань у Німеччині",
        "Мигранты стоят за волной изнасилований в Германии",
    ),
    "baltic_russophobia": (
        "The Baltic states discriminate against their Russian minorities",
        "Країни Балтії дискримінують російськомовні меншини",
        "Страны Балтии дискриминируют русскоязычные меньшинства",
    ),
    "lithuania_nuclear": (
        "Closing its nuclear power plant destroyed the economy of Lithuania",
        "Закриття атомної електростанції зруйнувало економіку Литви",
        "Закрытие атомной электростанции разрушило экономику Литвы",
    ),
    "georgia_war": (
        "Georgia started the 2008 war by attacking South Ossetia",
        "Грузія розв'язала війну 2008 року, напавши на Південну Осетію",
        "Грузия развязала войну 2008 года, напав на Южную Осетию",
    ),
    "ukraine_church": (
        "The Ukrainian authorities persecute the Orthodox Church",
        "Українська влада переслідує православну церкву",
        "Украинские власти преследуют православную церковь",
    ),
}

LANGS = ("en", "uk", "ru")
