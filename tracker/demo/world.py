"""The demo's world: the coalition, the public bodies it writes to, and what letters say."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo


PARIS = ZoneInfo("Europe/Paris")
TRUTH_FORMAT = "tracker-demo-truth/1"
HOST = "ensemble-demo"

COALITION_NAME = "Collectif Ensemble contre la traite des êtres humains"
COALITION_DOMAIN = "ensemble-traite.example.org"
COALITION_SENDERS = [
    ("Claire Dumoulin", f"coordination@{COALITION_DOMAIN}", "Coordinatrice du Collectif"),
    ("Hélène Marchetti", f"plaidoyer@{COALITION_DOMAIN}", "Chargée de plaidoyer"),
    ("Jean-Baptiste Ndiaye", f"presidence@{COALITION_DOMAIN}", "Président du Collectif"),
]
COALITION_ADDRESSES = [a for _, a, _ in COALITION_SENDERS]
PARTNERS = [
    ("Association Aide aux victimes", "contact@aide-victimes.example.net"),
    ("Comité contre l'esclavage moderne", "plaidoyer@ccem.example.net"),
    ("Amicale du Nid", "siege@amicale-nid.example.net"),
]
REPORTING_MTA = "mx1.hebergeur-associatif.example.net"
MAILER_DAEMON = f"MAILER-DAEMON@{REPORTING_MTA}"
EXCHANGE_POSTMASTER = "postmaster@hebergeur-associatif.example.net"


@dataclass
class Body:
    """A public body of the demo, with how it behaves."""

    name: str
    short: str
    domains: list[str]
    addresses: list[str]  # configured exact addresses
    to: str  # where letters go
    staff: list[tuple[str, str]]  # (display name, address): other addresses it answers from
    noreply: str | None  # acknowledgements come from here
    salutation: str
    signer: tuple[str, str]  # (name, title)
    deadline: str | None = None
    answer: float = 0.7
    median_days: float = 35
    ack: float = 0.2
    auto: float = 0.1
    weight: float = 1.0
    mailer: str = "zimbra"  # zimbra | outlook | lotus | legacy
    ref_prefix: str = "CAB"
    stale: str | None = None  # an old address that bounces


BODIES = [
    Body(
        "Ministère de l'Intérieur", "Intérieur", ["interieur.gouv.fr"],
        ["secretariat.cabinet@interieur.gouv.fr"], "secretariat.cabinet@interieur.gouv.fr",
        [("Bureau du cabinet", "bureau.cabinet@interieur.gouv.fr"),
         ("DLPAJ - Sous-direction du conseil juridique", "dlpaj-sdcj@interieur.gouv.fr"),
         ("Courrier du cabinet", "courrier.cabinet@interieur.gouv.fr")],
        "ne-pas-repondre@interieur.gouv.fr", "Monsieur le Ministre",
        ("Laurent Berthier", "Directeur adjoint du cabinet"),
        answer=0.75, median_days=45, ack=0.5, auto=0.1, weight=16, mailer="zimbra",
        ref_prefix="CAB", stale="conseiller.migrations@interieur.gouv.fr",
    ),
    Body(
        "Préfecture de police de Paris", "Préfecture de police",
        ["prefecture-police-paris.interieur.gouv.fr"], [],
        "cabinet@prefecture-police-paris.interieur.gouv.fr",
        [("Cabinet du préfet de police", "pp-cabinet-courrier@prefecture-police-paris.interieur.gouv.fr"),
         ("Brigade de protection des mineurs", "bpm-secretariat@prefecture-police-paris.interieur.gouv.fr")],
        None, "Monsieur le Préfet de police",
        ("Sophie Lemaire-Vidal", "Cheffe de cabinet du préfet de police"),
        deadline="45 days", answer=0.7, median_days=30, ack=0.0, auto=0.15, weight=8,
        mailer="outlook", ref_prefix="PP/CAB",
    ),
    Body(
        "Ministère de la Justice", "Justice", ["justice.gouv.fr"],
        ["courrier.cabinet@justice.gouv.fr"], "courrier.cabinet@justice.gouv.fr",
        [("DACG - Bureau de la politique pénale générale", "dacg-bppg@justice.gouv.fr"),
         ("Cabinet du garde des Sceaux", "cabinet.gds@justice.gouv.fr")],
        "accuse-reception@justice.gouv.fr", "Monsieur le Garde des Sceaux",
        ("Marc Olivieri", "Conseiller pénal"),
        deadline="30 working days", answer=0.7, median_days=40, ack=0.6, auto=0.05, weight=14,
        mailer="lotus", ref_prefix="DACG", stale="ancien.cabinet@justice.gouv.fr",
    ),
    Body(
        "Ministère du Travail et de l'Emploi", "Travail", ["travail.gouv.fr"],
        ["cabinet@travail.gouv.fr"], "cabinet@travail.gouv.fr",
        [("Direction générale du travail", "dgt-courrier@travail.gouv.fr"),
         ("Secrétariat particulier", "secretariat.particulier@travail.gouv.fr")],
        None, "Madame la Ministre", ("Nadia Ferhat", "Conseillère sociale"),
        answer=0.6, median_days=50, ack=0.1, auto=0.2, weight=10, mailer="outlook",
        ref_prefix="DGT", stale="conseiller.social@travail.gouv.fr",
    ),
    Body(
        "Ministère de l'Europe et des Affaires étrangères", "Affaires étrangères",
        ["diplomatie.gouv.fr"], ["cabinet.ministre@diplomatie.gouv.fr"],
        "cabinet.ministre@diplomatie.gouv.fr",
        [("Direction des Nations unies et des organisations internationales", "nuoi-dh@diplomatie.gouv.fr"),
         ("Protocole", "protocole.immunites@diplomatie.gouv.fr")],
        None, "Monsieur le Ministre", ("Arnaud de Castelbajac", "Conseiller diplomatique"),
        answer=0.55, median_days=55, ack=0.0, auto=0.35, weight=7, mailer="outlook",
        ref_prefix="NUOI/DH",
    ),
    Body(
        "Ministère des Solidarités et des Familles", "Solidarités",
        ["social.gouv.fr", "solidarites.gouv.fr"], ["cabinet.solidarites@social.gouv.fr"],
        "cabinet.solidarites@social.gouv.fr",
        [("DGCS - Bureau des urgences sociales", "dgcs-urgences-sociales@social.gouv.fr"),
         ("Cabinet de la ministre", "secretariat.cabinet@solidarites.gouv.fr")],
        "ne-pas-repondre@social.gouv.fr", "Madame la Ministre",
        ("Camille Rousseau", "Conseillère en charge de l'hébergement"),
        answer=0.7, median_days=35, ack=0.35, auto=0.1, weight=10, mailer="zimbra",
        ref_prefix="DGCS",
    ),
    Body(
        "Ministère chargé de l'Égalité entre les femmes et les hommes", "Égalité",
        ["egalite-femmes-hommes.gouv.fr"], ["cabinet@egalite-femmes-hommes.gouv.fr"],
        "cabinet@egalite-femmes-hommes.gouv.fr",
        [("Service des droits des femmes", "sdfe@egalite-femmes-hommes.gouv.fr")],
        None, "Madame la Ministre", ("Julie Garnier", "Cheffe de cabinet"),
        answer=0.8, median_days=25, ack=0.0, auto=0.1, weight=9, mailer="legacy",
        ref_prefix="SDFE",
    ),
    Body(
        "Mission interministérielle pour la protection des femmes contre les violences et la "
        "lutte contre la traite des êtres humains", "MIPROF", [],
        ["miprof@social.gouv.fr", "secretariat.miprof@social.gouv.fr"], "miprof@social.gouv.fr",
        [("Secrétariat de la MIPROF", "secretariat.miprof@social.gouv.fr")],
        None, "Madame la Secrétaire générale", ("Isabelle Carrère", "Secrétaire générale"),
        answer=0.9, median_days=15, ack=0.0, auto=0.1, weight=8, mailer="zimbra",
        ref_prefix="MIPROF",
    ),
    Body(
        "Commission nationale consultative des droits de l'homme", "CNCDH", ["cncdh.fr"], [],
        "secretariat@cncdh.fr", [("Rapporteur national traite", "rapporteur.traite@cncdh.fr")],
        None, "Madame la Présidente", ("Thomas Vasseur", "Secrétaire général"),
        deadline="1 month", answer=0.85, median_days=18, ack=0.0, auto=0.05, weight=6,
        mailer="legacy", ref_prefix="CNCDH",
    ),
    Body(
        "Défenseur des droits", "Défenseur des droits", ["defenseurdesdroits.fr"], [],
        "saisine@defenseurdesdroits.fr",
        [("Pôle droits fondamentaux des étrangers", "pole.etrangers@defenseurdesdroits.fr")],
        "ne-pas-repondre@defenseurdesdroits.fr", "Madame la Défenseure des droits",
        ("Élodie Marchand", "Juriste, pôle droits fondamentaux des étrangers"),
        answer=0.75, median_days=40, ack=0.8, auto=0.0, weight=6, mailer="zimbra",
        ref_prefix="DDD",
    ),
    Body(
        "Office français de protection des réfugiés et apatrides", "OFPRA", ["ofpra.gouv.fr"], [],
        "direction.generale@ofpra.gouv.fr",
        [("Mission vulnérabilités", "mission.vulnerabilites@ofpra.gouv.fr")],
        None, "Monsieur le Directeur général", ("Pierre-Yves Kermarrec", "Chef de la mission vulnérabilités"),
        answer=0.65, median_days=30, ack=0.1, auto=0.1, weight=6, mailer="outlook",
        ref_prefix="OFPRA/DG",
    ),
    Body(
        "Ministère de l'Économie et des Finances", "Économie",
        ["economie.gouv.fr", "finances.gouv.fr"], ["cabinet.ministre@economie.gouv.fr"],
        "cabinet.ministre@economie.gouv.fr", [], "ne-pas-repondre@finances.gouv.fr",
        "Monsieur le Ministre", ("", ""),
        answer=0.0, median_days=60, ack=0.5, auto=0.1, weight=5, mailer="outlook",
        ref_prefix="BERCY",
    ),
    Body(
        "Commission des lois de l'Assemblée nationale", "Commission des lois",
        ["assemblee-nationale.fr"], [], "commission.lois@assemblee-nationale.fr",
        [("Secrétariat de la commission des lois", "secretariat.lois@assemblee-nationale.fr")],
        None, "Monsieur le Président de la commission des lois",
        ("Antoine Morel", "Administrateur de la commission"),
        answer=0.35, median_days=40, ack=0.0, auto=0.2, weight=5, mailer="legacy",
        ref_prefix="AN/LOIS",
    ),
]

TOPICS = [
    ("la délivrance des titres de séjour aux victimes de traite (article L. 425-1 du CESEDA)",
     "Titres de séjour des victimes de traite"),
    ("le financement du dispositif national Ac.Sé d'accueil sécurisé des victimes",
     "Financement du dispositif Ac.Sé"),
    ("la situation des mineurs contraints à commettre des délits",
     "Mineurs contraints à commettre des délits"),
    ("le troisième plan national de lutte contre la traite des êtres humains",
     "Plan national de lutte contre la traite"),
    ("la formation des inspecteurs du travail à l'identification des victimes",
     "Formation des inspecteurs du travail"),
    ("l'exploitation des travailleurs saisonniers dans les vendanges",
     "Exploitation des saisonniers agricoles"),
    ("l'exploitation sexuelle organisée par le biais des plateformes en ligne",
     "Exploitation sexuelle en ligne"),
    ("la transposition de la directive (UE) 2024/1712 modifiant la directive 2011/36/UE",
     "Transposition de la directive (UE) 2024/1712"),
    ("l'indemnisation des victimes par les commissions d'indemnisation (CIVI)",
     "Indemnisation des victimes par les CIVI"),
    ("l'hébergement sécurisé des victimes et de leurs enfants",
     "Hébergement sécurisé des victimes"),
    ("l'esclavage domestique au sein de foyers bénéficiant d'immunités diplomatiques",
     "Esclavage domestique et immunités diplomatiques"),
    ("la prévention des mariages forcés", "Prévention des mariages forcés"),
    ("le contrôle des agences de recrutement de main-d'œuvre à l'étranger",
     "Agences de recrutement à l'étranger"),
    ("le devoir de vigilance des entreprises dans leurs chaînes d'approvisionnement",
     "Devoir de vigilance et travail forcé"),
    ("l'identification des victimes dans les centres de rétention administrative",
     "Identification des victimes en rétention"),
    ("l'accès des victimes à l'asile et la prise en compte de leur vulnérabilité",
     "Asile et vulnérabilité des victimes de traite"),
    ("la collecte de données statistiques sur la traite",
     "Statistiques sur la traite des êtres humains"),
    ("la protection des victimes lors des procédures pénales",
     "Protection des victimes pendant la procédure pénale"),
    ("la mise à l'abri des mineurs non accompagnés exploités",
     "Mise à l'abri des mineurs non accompagnés"),
    ("l'exploitation dans les chantiers du bâtiment", "Travail forcé sur les chantiers"),
    ("la coopération avec les pays d'origine des victimes", "Coopération avec les pays d'origine"),
    ("la traite à des fins de mendicité forcée", "Mendicité forcée"),
    ("le parcours de sortie de la prostitution", "Parcours de sortie de la prostitution"),
    ("la sensibilisation des professionnels de santé", "Sensibilisation des professionnels de santé"),
    ("le rapport d'évaluation du GRETA sur la France", "Rapport du GRETA sur la France"),
]
CONTEXTS = [
    "", "", "", " : demande de rendez-vous", " : nos recommandations", " : suites à donner",
    " en Île-de-France", " dans les Hauts-de-France", " en Provence-Alpes-Côte d'Azur",
    " en Outre-mer", " : situation préoccupante", " : contribution du Collectif",
    " : questions écrites", " : demande d'information", " en Auvergne-Rhône-Alpes",
    " dans le Grand Est", " en Occitanie", " : bilan et perspectives",
]
ASKS = [
    "Nous sollicitons un rendez-vous avec vos services afin d'échanger sur ces questions.",
    "Nous vous demandons de bien vouloir nous indiquer les mesures que vous entendez prendre.",
    "Nous souhaiterions connaître l'état d'avancement des travaux engagés par vos services.",
    "Nous vous prions de bien vouloir nous communiquer les instructions données aux services.",
    "Nous vous serions reconnaissants de nous faire part de votre position sur nos recommandations.",
]
PROBLEMS = [
    "Les associations membres du Collectif constatent sur le terrain que les victimes "
    "rencontrent des difficultés croissantes pour faire valoir leurs droits.",
    "Plusieurs situations récentes, suivies par nos associations, montrent que les dispositifs "
    "existants restent largement méconnus des professionnels concernés.",
    "Malgré les engagements pris, les moyens consacrés à l'accompagnement des victimes demeurent "
    "insuffisants au regard des besoins que nous observons.",
    "Les délais constatés exposent les personnes concernées à un risque élevé de nouvelle "
    "exploitation, ce qui nous préoccupe vivement.",
]
ANSWERS = [
    "Je tiens à vous assurer de la pleine mobilisation des services sur ce sujet. Une "
    "instruction a été adressée aux services déconcentrés afin de rappeler le cadre applicable "
    "et de veiller à son application homogène sur l'ensemble du territoire.",
    "Vos recommandations ont été examinées avec attention. Certaines d'entre elles seront "
    "reprises dans les travaux interministériels en cours, dont les conclusions sont attendues "
    "dans les prochains mois.",
    "Les crédits consacrés à ce dispositif ont été reconduits pour l'année en cours, et une "
    "évaluation sera conduite afin d'en apprécier l'adéquation aux besoins que vous décrivez.",
    "Mes services se tiennent à votre disposition pour une réunion de travail. Le secrétariat "
    "prendra prochainement l'attache de votre coordination afin d'en fixer la date.",
    "Une réflexion est engagée sur l'évolution du cadre réglementaire ; vos observations "
    "seront utilement versées à la concertation qui s'ouvrira prochainement.",
]
GENERIC_ANSWER = (
    "J'ai bien pris connaissance de votre courrier et des préoccupations qu'il exprime. Je puis "
    "vous assurer que les services du ministère examinent avec la plus grande attention les "
    "questions que vous soulevez, qui rejoignent les priorités de l'action gouvernementale. Ils "
    "restent à la disposition du Collectif pour poursuivre ce dialogue."
)
HEADERLESS_PREFIXES = ["RE : ", "TR : ", "Réf. : ", "Rép. : ", "RE: ", "TR: ", "Réf : ", "Fwd: ",
                       "Rép : ", "TR : RE : ", "RE : TR : "]
HEADERLESS_VARIANTS = ["subject_prefix", "date_subject", "subject_prefix", "objet_body", "subject_prefix",
                      "reference", "subject_prefix", "pdf", "subject_prefix", "accuse_human",
                      "objet_body", "html_only", "subject_prefix", "date_numeric"]
MONTHS_FR = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
             "septembre", "octobre", "novembre", "décembre"]
DAYS_FR = ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"]
